// Which organization a signed-in user acts in: the X-Org-Id header, else
// their first organization. Membership is checked; a foreign org is 404.
import type { Request } from 'express';
import { AppError, unauthorized } from '../core/errors';
import type { TenancyStore } from '../core/tenancy/store';

export async function orgOf(req: Request, tenancy: TenancyStore): Promise<string> {
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
