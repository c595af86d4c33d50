// The signed-in user and their workspace. POST /v1/orgs/auto onboards them
// once (core/tenancy/onboarding), even under concurrent calls.
import { Router, type RequestHandler } from 'express';
import type { Ledger } from '../../core/ledger/types';
import { onboardWorkspace } from '../../core/tenancy/onboarding';
import type { TenancyStore } from '../../core/tenancy/store';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { orgSchema, uuid } from '../schemas';

export interface TenancyRouteDeps {
  api: ApiDefinition;
  tenancy: TenancyStore;
  ledger: Ledger;
  starterCreditsMc: number;
  requireUser: RequestHandler;
  idempotency: RequestHandler;
}

const workspaceSchema = z
  .object({
    org: orgSchema,
    project_id: uuid,
    wallet_id: uuid,
    created: z.boolean(),
    starter_credits_mc: z.number().int(),
  })
  .openapi('Workspace');

export function createTenancyRouter(deps: TenancyRouteDeps): Router {
  const { api, tenancy } = deps;
  const router = Router();
  const tags = ['Workspace'];

  api.route(router, {
    method: 'post', path: '/v1/orgs/auto', summary: "Create (once) and return the user's workspace with its starter credits", tags, auth: 'user', workspaceRole: null,
    use: [deps.requireUser, deps.idempotency], idempotent: true,
    responses: { 201: { description: 'Created', schema: workspaceSchema }, 200: { description: 'Already existed', schema: workspaceSchema } },
  }, async (req, res) => {
    const user = req.user!;
    const ws = await onboardWorkspace(deps, user);
    res.status(ws.created ? 201 : 200).json({
      org: { id: ws.org.id, name: ws.org.name, role: 'owner' }, project_id: ws.projectId, wallet_id: ws.walletId,
      created: ws.created, starter_credits_mc: deps.starterCreditsMc,
    });
  });

  api.route(router, {
    method: 'get', path: '/v1/me', summary: 'The signed-in user, their roles and organizations', tags, auth: 'user', workspaceRole: null, use: [deps.requireUser],
    responses: {
      200: {
        description: 'The user',
        schema: z.object({ id: uuid, email: z.string().nullable(), roles: z.array(z.string()), orgs: z.array(orgSchema) }),
      },
    },
  }, async (req, res) => {
    const user = req.user!;
    const orgs = await tenancy.membershipsOf(user.id);
    res.json({ id: user.id, email: user.email, roles: user.roles, orgs: orgs.map((m) => ({ id: m.orgId, name: m.orgName, role: m.role })) });
  });

  return router;
}
