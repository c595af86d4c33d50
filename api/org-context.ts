// Which organization a signed-in user acts in: the workspace the route's
// guard resolved (api/openapi.ts: the orgId parameter, X-Org-Id, else their
// first organization). Membership is checked; a foreign org is 404.
import type { Request } from 'express';
import { AppError, notFound, unauthorized } from '../core/errors';
import type { TenancyStore } from '../core/tenancy/store';
import { requireRole } from './openapi';

export async function orgOf(req: Request, tenancy: TenancyStore): Promise<string> {
  if (req.workspace) return req.workspace.orgId;
  if (req.apiKey) return req.apiKey.orgId;
  if (!req.user) throw unauthorized();
  const requested = req.header('x-org-id');
  if (requested) {
    await tenancy.requireMembership(req.user.id, requested);
    return requested;
  }
  const orgId = await tenancy.defaultOrgOf(req.user.id);
  if (!orgId) throw new AppError('not-found', 'No workspace', 'You have no workspace yet: POST /v1/orgs/auto creates it');
  return orgId;
}

/**
 * A route about one resource (a wallet, an order) acts in the resource's organization: the caller needs the route's
 * workspace role there. Not a member is the resource's 404, so other tenants' ids leak nothing.
 */
export async function requireRoleIn(req: Request, tenancy: TenancyStore, orgId: string, what: string): Promise<void> {
  if (!req.user) throw unauthorized();
  const needs = req.resourceRoleNeeded;
  if (!needs) throw new Error(`${req.method} ${req.path} checks a resource's workspace role but declares none (workspaceFrom: 'resource')`);
  const role = await tenancy.requireMembership(req.user.id, orgId).catch(() => {
    throw notFound(what);
  });
  req.workspace = { orgId, role: requireRole(role, needs), needs };
}
