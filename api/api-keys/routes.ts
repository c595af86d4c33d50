// API keys of the current organization: created with the secret shown once,
// listed by prefix, revoked at once.
import { Router, type RequestHandler } from 'express';
import { API_KEY_SCOPES, type ApiKey, type ApiKeyStore } from '../../core/api-keys/store';
import type { AuditLog } from '../../core/audit';
import type { TenancyStore } from '../../core/tenancy/store';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { orgOf } from '../org-context';
import { apiKeySchema, uuid } from '../schemas';

export interface ApiKeyRouteDeps {
  api: ApiDefinition;
  keys: ApiKeyStore;
  tenancy: TenancyStore;
  audit: AuditLog;
  requireUser: RequestHandler;
  idempotency: RequestHandler;
}

export const apiKeyView = (k: ApiKey) => ({
  id: k.id, name: k.name, prefix: `cmp_live_${k.prefix}`, scopes: k.scopes, instance_id: k.instanceId, created_at: k.createdAt,
  last_used_at: k.lastUsedAt, revoked_at: k.revokedAt, created_by: k.createdBy ? { user_id: k.createdBy, email: k.createdByEmail ?? null } : null,
});

/** Admins and owners manage every key of the workspace; a member sees and revokes only their own. */
const ownKeysOnly = (req: Express.Request) => (req.workspace?.role === 'member' ? { createdBy: req.user!.id } : {});

export function createApiKeyRouter(deps: ApiKeyRouteDeps): Router {
  const { api, keys } = deps;
  const router = Router();
  const tags = ['API keys'];

  api.route(router, {
    method: 'post', path: '/v1/api-keys', summary: 'Create an API key; the secret is in this answer only', tags, auth: 'user', workspaceRole: 'member',
    use: [deps.requireUser, deps.idempotency], idempotent: true,
    body: z.object({
      name: z.string().trim().min(1).max(80),
      instance_id: uuid.optional(),
      scopes: z.array(z.enum(API_KEY_SCOPES)).min(1).max(API_KEY_SCOPES.length).default(['runs'])
        .describe('runs: call agents; usage:read: read GET /v1/balance and GET /v1/usage'),
    }),
    responses: { 201: { description: 'Created', schema: apiKeySchema.extend({ secret: z.string() }) } },
  }, async (req, res, { body }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const key = await keys.create({ orgId, name: body.name, createdBy: req.user!.id, instanceId: body.instance_id ?? null, scopes: body.scopes });
    await deps.audit.record({ orgId, actor: `user:${req.user!.id}`, action: 'api_key.create', targetType: 'api_key', targetId: key.id, data: { name: key.name, scopes: key.scopes } });
    res.status(201).json({ ...apiKeyView({ ...key, createdByEmail: req.user!.email }), secret: key.secret });
  });

  api.route(router, {
    method: 'get', path: '/v1/api-keys', summary: "The workspace's API keys with their creators (a member: their own), never their secrets", tags, auth: 'user', workspaceRole: 'member', use: [deps.requireUser],
    responses: { 200: { description: 'Keys', schema: z.object({ items: z.array(apiKeySchema) }) } },
  }, async (req, res) => {
    const orgId = await orgOf(req, deps.tenancy);
    res.json({ items: (await keys.list(orgId, ownKeysOnly(req))).map(apiKeyView) });
  });

  api.route(router, {
    method: 'delete', path: '/v1/api-keys/:id', summary: 'Revoke an API key, effective immediately (a member: only their own)', tags, auth: 'user', workspaceRole: 'member',
    use: [deps.requireUser, deps.idempotency], idempotent: true,
    params: z.object({ id: z.string().max(64) }),
    responses: { 200: { description: 'Revoked', schema: apiKeySchema } },
  }, async (req, res, { params }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const key = await keys.revoke(orgId, params.id, ownKeysOnly(req));
    await deps.audit.record({ orgId, actor: `user:${req.user!.id}`, action: 'api_key.revoke', targetType: 'api_key', targetId: key.id });
    res.json(apiKeyView(key));
  });

  return router;
}
