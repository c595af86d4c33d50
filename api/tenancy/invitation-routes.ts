// Invitations: owners and admins invite by email with a workspace role; the
// link's page reads the public summary; the invited person accepts it signed
// in with the invited email. Audited: invitation.sent / accepted / revoked.
import { Router, type RequestHandler } from 'express';
import type { AuditLog } from '../../core/audit';
import { forbidden } from '../../core/errors';
import type { MailSender } from '../../core/mail';
import type { Invitation, InvitationStore } from '../../core/tenancy/invitations';
import type { ApiDefinition } from '../openapi';
import { problemSchema, z } from '../openapi';
import { orgSchema, uuid } from '../schemas';
import { workspaceRoleSchema } from './members-routes';

export interface InvitationRouteDeps {
  api: ApiDefinition;
  invitations: InvitationStore;
  mail: MailSender;
  audit: AuditLog;
  /** Where the store serves /invite/{token}. */
  webOrigin: string;
  ttlHours: number;
  requireUser: RequestHandler;
  idempotency: RequestHandler;
}

const stateSchema = z.enum(['pending', 'accepted', 'revoked', 'expired']);

const invitationSchema = z
  .object({
    id: uuid,
    email: z.string(),
    role: workspaceRoleSchema,
    invited_by: z.object({ user_id: uuid, email: z.string().nullable() }),
    state: stateSchema,
    created_at: z.string(),
    expires_at: z.string(),
    accepted_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    link: z.string().nullable().describe('The invitation link, only where no mail server is configured (the dev stack); null otherwise'),
  })
  .openapi('Invitation');

const invitationSummarySchema = z
  .object({
    workspace_name: z.string(),
    email: z.string().describe('Who may accept it'),
    role: workspaceRoleSchema,
    invited_by: z.string().nullable().describe("The inviter's email"),
    state: stateSchema,
    expires_at: z.string(),
  })
  .openapi('InvitationSummary');

const orgParams = z.object({ orgId: z.string().max(64) });
const tokenParams = z.object({ token: z.string().max(100) });

export function createInvitationRouter(deps: InvitationRouteDeps): Router {
  const { api, invitations, audit } = deps;
  const router = Router();
  const tags = ['Workspace'];
  const linkOf = (token: string) => `${deps.webOrigin.replace(/\/$/, '')}/invite/${token}`;
  // With a mail server the link goes only to the invited inbox; without one (dev stack) the workspace page shows it.
  const shownLink = (i: Invitation) => (deps.mail.kind === 'smtp' || i.state !== 'pending' ? null : linkOf(invitations.tokenOf(i.id)));
  const view = (i: Invitation) => ({
    id: i.id, email: i.email, role: i.role, invited_by: { user_id: i.invitedBy.userId, email: i.invitedBy.email }, state: i.state,
    created_at: i.createdAt, expires_at: i.expiresAt, accepted_at: i.acceptedAt, revoked_at: i.revokedAt, link: shownLink(i),
  });

  api.route(router, {
    method: 'post', path: '/v1/orgs/:orgId/invitations', summary: 'Invite someone by email with a workspace role (only owners invite owners); the link is mailed',
    tags, auth: 'user', workspaceRole: 'admin', use: [deps.requireUser, deps.idempotency], idempotent: true, params: orgParams,
    body: z.object({ email: z.string().trim().email().max(254), role: workspaceRoleSchema.default('member') }),
    responses: { 201: { description: 'Invited', schema: invitationSchema } },
  }, async (req, res, { body }) => {
    const { orgId, role: myRole } = req.workspace!;
    if (body.role === 'owner' && myRole !== 'owner') throw forbidden('Only an owner may invite an owner');
    const { invitation, token } = await invitations.create({ orgId, email: body.email, role: body.role, invitedBy: req.user!.id, ttlHours: deps.ttlHours });
    const inviter = req.user!.email ?? 'A colleague';
    const link = linkOf(token);
    await deps.mail.send({
      to: invitation.email,
      subject: `${inviter} invited you to ${invitation.orgName} on CMP`,
      text: `${inviter} invited you to join the workspace "${invitation.orgName}" on CMP as ${invitation.role}.\n\n`
        + `Accept the invitation: ${link}\n\nThe link works once and expires on ${invitation.expiresAt}.`,
    });
    await audit.record({ orgId, actor: `user:${req.user!.id}`, action: 'invitation.sent', targetType: 'invitation', targetId: invitation.id, data: { email: invitation.email, role: invitation.role } });
    res.status(201).json(view(invitation));
  });

  api.route(router, {
    method: 'get', path: '/v1/orgs/:orgId/invitations', summary: "The workspace's invitations, newest first", tags, auth: 'user', workspaceRole: 'admin',
    use: [deps.requireUser], params: orgParams,
    responses: { 200: { description: 'Invitations', schema: z.object({ items: z.array(invitationSchema) }) } },
  }, async (req, res) => {
    res.json({ items: (await invitations.list(req.workspace!.orgId)).map(view) });
  });

  api.route(router, {
    method: 'delete', path: '/v1/orgs/:orgId/invitations/:id', summary: 'Revoke an invitation: its link stops working', tags, auth: 'user', workspaceRole: 'admin',
    use: [deps.requireUser, deps.idempotency], idempotent: true, params: orgParams.extend({ id: z.string().max(64) }),
    responses: { 200: { description: 'Revoked', schema: invitationSchema } },
  }, async (req, res, { params }) => {
    const orgId = req.workspace!.orgId;
    const invitation = await invitations.revoke(orgId, params.id);
    await audit.record({ orgId, actor: `user:${req.user!.id}`, action: 'invitation.revoked', targetType: 'invitation', targetId: invitation.id, data: { email: invitation.email } });
    res.json(view(invitation));
  });

  api.route(router, {
    method: 'get', path: '/v1/invitations/:token', summary: "An invitation's public summary: workspace, role, inviter and whether it still works", tags, auth: 'public',
    workspaceRole: null, params: tokenParams,
    responses: { 200: { description: 'The invitation', schema: invitationSummarySchema } },
  }, async (_req, res, { params }) => {
    const i = await invitations.byToken(params.token);
    res.json({ workspace_name: i.orgName, email: i.email, role: i.role, invited_by: i.invitedBy.email, state: i.state, expires_at: i.expiresAt });
  });

  api.route(router, {
    method: 'post', path: '/v1/invitations/:token/accept', summary: 'Accept an invitation as the invited person: joins the workspace with its role', tags, auth: 'user',
    workspaceRole: null, use: [deps.requireUser], params: tokenParams,
    responses: {
      200: { description: 'Joined (also when this person had accepted it already)', schema: z.object({ org: orgSchema }) },
      403: { description: 'Signed in with another email than the invited one (invitation-wrong-email)', schema: problemSchema },
      410: { description: 'Expired, revoked or already used (invitation-expired, invitation-revoked, invitation-used)', schema: problemSchema },
    },
  }, async (req, res, { params }) => {
    const user = req.user!;
    const accepted = await invitations.accept(params.token, { id: user.id, email: user.email });
    const i = accepted.invitation;
    if (!accepted.alreadyAccepted) {
      await audit.record({ orgId: i.orgId, actor: `user:${user.id}`, action: 'invitation.accepted', targetType: 'invitation', targetId: i.id, data: { email: i.email, role: accepted.role } });
    }
    res.json({ org: { id: i.orgId, name: i.orgName, role: accepted.role } });
  });

  return router;
}
