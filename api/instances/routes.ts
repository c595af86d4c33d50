// Instances of the current organization (read). Subscribing and
// unsubscribing run the provisioning workflows (api/instances/subscribe.ts).
import { Router, type RequestHandler } from 'express';
import type { Instance, InstanceStore } from '../../core/instances/store';
import type { TenancyStore } from '../../core/tenancy/store';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { orgOf } from '../org-context';
import { instanceSchema } from '../schemas';

export interface InstanceRouteDeps {
  api: ApiDefinition;
  instances: InstanceStore;
  tenancy: TenancyStore;
  requireUser: RequestHandler;
}

export const instanceView = (i: Instance) => ({
  id: i.id, org_id: i.orgId, offering_id: i.offeringId, offering_slug: i.offeringSlug, offering_name: i.offeringName, version: i.version,
  plan_code: i.planCode, status: i.status, order_id: i.orderId, workflow_id: i.workflowId, gitops_commit_sha: i.gitopsCommitSha,
  last_error: i.lastError ?? null, created_at: i.createdAt, activated_at: i.activatedAt,
});

export function createInstanceRouter(deps: InstanceRouteDeps): Router {
  const { api, instances } = deps;
  const router = Router();
  const tags = ['Instances'];

  api.route(router, {
    method: 'get', path: '/v1/instances', summary: "The organization's agent instances", tags, auth: 'user', workspaceRole: 'member', use: [deps.requireUser],
    query: z.object({ include_deprovisioned: z.enum(['true', 'false']).optional() }),
    responses: { 200: { description: 'Instances', schema: z.object({ items: z.array(instanceSchema) }) } },
  }, async (req, res, { query }) => {
    const orgId = await orgOf(req, deps.tenancy);
    res.json({ items: (await instances.list(orgId, { includeDeprovisioned: query.include_deprovisioned === 'true' })).map(instanceView) });
  });

  api.route(router, {
    method: 'get', path: '/v1/instances/:id', summary: 'One instance', tags, auth: 'user', workspaceRole: 'member', use: [deps.requireUser],
    params: z.object({ id: z.string().max(64) }),
    responses: { 200: { description: 'The instance', schema: instanceSchema } },
  }, async (req, res, { params }) => {
    const orgId = await orgOf(req, deps.tenancy);
    res.json(instanceView(await instances.get(orgId, params.id)));
  });

  return router;
}
