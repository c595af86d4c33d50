// The people of a workspace: list, change a workspace role, remove, leave.
// The route's workspaceRole admits the caller; the store decides the finer
// rules (only owners touch owners, the last owner stays) under the org's lock.
import { Router, type RequestHandler } from 'express';
import type { AuditLog } from '../../core/audit';
import type { MembersStore } from '../../core/tenancy/members';
import { WORKSPACE_ROLES } from '../../core/tenancy/roles';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { uuid } from '../schemas';

export interface MemberRouteDeps {
  api: ApiDefinition;
  members: MembersStore;
  audit: AuditLog;
  requireUser: RequestHandler;
  idempotency: RequestHandler;
}

export const workspaceRoleSchema = z.enum(WORKSPACE_ROLES).describe('Workspace role (not a platform role): member < admin < owner');

const memberSchema = z
  .object({
    user_id: uuid,
    email: z.string().nullable(),
    name: z.string().nullable(),
    role: workspaceRoleSchema,
    joined_at: z.string(),
    live_keys: z.number().int().describe('Live API keys this member created here; removing them revokes these'),
  })
  .openapi('Member');

const orgParams = z.object({ orgId: z.string().max(64) });
const memberParams = orgParams.extend({ userId: z.string().max(64) });

export function createMemberRouter(deps: MemberRouteDeps): Router {
  const { api, members, audit } = deps;
  const router = Router();
  const tags = ['Workspace'];
  const actorOf = (req: Express.Request) => ({ userId: req.user!.id });

  api.route(router, {
    method: 'get', path: '/v1/orgs/:orgId/members', summary: "The workspace's members and their workspace roles", tags, auth: 'user', workspaceRole: 'member',
    use: [deps.requireUser], params: orgParams,
    responses: { 200: { description: 'Members', schema: z.object({ items: z.array(memberSchema) }) } },
  }, async (req, res) => {
    const items = await members.list(req.workspace!.orgId);
    res.json({
      items: items.map((m) => ({ user_id: m.userId, email: m.email, name: m.name, role: m.role, joined_at: m.joinedAt, live_keys: m.liveKeys })),
    });
  });

  api.route(router, {
    method: 'patch', path: '/v1/orgs/:orgId/members/:userId', summary: "Change a member's workspace role (owners only for owners; the last owner stays)", tags, auth: 'user',
    workspaceRole: 'admin', use: [deps.requireUser, deps.idempotency], idempotent: true, params: memberParams,
    body: z.object({ role: workspaceRoleSchema }),
    responses: { 200: { description: 'Changed', schema: z.object({ user_id: uuid, from: workspaceRoleSchema, role: workspaceRoleSchema }) } },
  }, async (req, res, { params, body }) => {
    const orgId = req.workspace!.orgId;
    const change = await members.changeRole(orgId, actorOf(req), params.userId, body.role);
    if (change.from !== change.to) {
      await audit.record({ orgId, actor: `user:${req.user!.id}`, action: 'member.role_changed', targetType: 'user', targetId: change.userId, data: { from: change.from, to: change.to } });
    }
    res.json({ user_id: change.userId, from: change.from, role: change.to });
  });

  const removal = z.object({ user_id: uuid, role: workspaceRoleSchema, revoked_key_ids: z.array(uuid) });

  api.route(router, {
    method: 'delete', path: '/v1/orgs/:orgId/members/:userId', summary: 'Remove a member; the API keys they created here are revoked at once', tags, auth: 'user',
    workspaceRole: 'admin', use: [deps.requireUser, deps.idempotency], idempotent: true, params: memberParams,
    responses: { 200: { description: 'Removed', schema: removal } },
  }, async (req, res, { params }) => {
    const orgId = req.workspace!.orgId;
    const r = await members.remove(orgId, actorOf(req), params.userId);
    await audit.record({ orgId, actor: `user:${req.user!.id}`, action: 'member.removed', targetType: 'user', targetId: r.userId, data: { role: r.role, revoked_keys: r.revokedKeyIds.length } });
    res.json({ user_id: r.userId, role: r.role, revoked_key_ids: r.revokedKeyIds });
  });

  api.route(router, {
    method: 'post', path: '/v1/orgs/:orgId/leave', summary: 'Leave the workspace (not as its last owner); your API keys here are revoked', tags, auth: 'user',
    workspaceRole: 'member', use: [deps.requireUser, deps.idempotency], idempotent: true, params: orgParams,
    responses: { 200: { description: 'Left', schema: removal } },
  }, async (req, res) => {
    const orgId = req.workspace!.orgId;
    const r = await members.remove(orgId, actorOf(req), req.user!.id);
    await audit.record({ orgId, actor: `user:${req.user!.id}`, action: 'member.removed', targetType: 'user', targetId: r.userId, data: { role: r.role, revoked_keys: r.revokedKeyIds.length, left: true } });
    res.json({ user_id: r.userId, role: r.role, revoked_key_ids: r.revokedKeyIds });
  });

  return router;
}
