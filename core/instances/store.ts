// Instances: an organization's subscription to an offering version on a plan.
// Every read is filtered by org_id.
import type { Db } from '../db';
import { notFound } from '../errors';

export type InstanceStatus = 'pending' | 'provisioning' | 'active' | 'needs_attention' | 'failed' | 'deprovisioning' | 'deprovisioned';

export interface Instance {
  id: string;
  orgId: string;
  offeringId: string;
  offeringSlug: string;
  offeringName: string;
  offeringVersionId: string;
  version: string;
  planId: string;
  planCode: string;
  status: InstanceStatus;
  orderId: string | null;
  orderLine: number;
  workflowId: string | null;
  gitopsCommitSha: string | null;
  runtimeFlowId: string | null;
  lastError: unknown;
  createdAt: string;
  activatedAt: string | null;
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? null : String(v));

export const toInstance = (r: Record<string, any>): Instance => ({
  id: r.id, orgId: r.org_id, offeringId: r.offering_id, offeringSlug: r.offering_slug, offeringName: r.offering_name,
  offeringVersionId: r.offering_version_id, version: r.version, planId: r.plan_id, planCode: r.plan_code, status: r.status,
  orderId: r.order_id, orderLine: r.order_line, workflowId: r.workflow_id, gitopsCommitSha: r.gitops_commit_sha,
  runtimeFlowId: r.runtime_flow_id, lastError: r.last_error, createdAt: iso(r.created_at)!, activatedAt: iso(r.activated_at),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class InstanceStore {
  constructor(private readonly db: Db) {}

  private base() {
    return this.db('instances as i')
      .join('offerings as o', 'o.id', 'i.offering_id')
      .join('offering_versions as v', 'v.id', 'i.offering_version_id')
      .join('plans as p', 'p.id', 'i.plan_id')
      .select('i.*', 'o.slug as offering_slug', 'o.name as offering_name', 'v.version', 'p.code as plan_code');
  }

  async list(orgId: string, opts: { includeDeprovisioned?: boolean } = {}): Promise<Instance[]> {
    const rows = await this.base()
      .where('i.org_id', orgId)
      .modify((q) => {
        if (!opts.includeDeprovisioned) q.whereNot('i.status', 'deprovisioned');
      })
      .orderBy('i.created_at', 'desc');
    return rows.map(toInstance);
  }

  async get(orgId: string, id: string): Promise<Instance> {
    if (!UUID.test(id)) throw notFound(`Instance ${id}`);
    const row = await this.base().where('i.org_id', orgId).where('i.id', id).first();
    if (!row) throw notFound(`Instance ${id}`);
    return toInstance(row);
  }

  /** Without tenant filter: for workflows and support, never for tenant-facing routes. */
  async getAny(id: string): Promise<Instance> {
    if (!UUID.test(id)) throw notFound(`Instance ${id}`);
    const row = await this.base().where('i.id', id).first();
    if (!row) throw notFound(`Instance ${id}`);
    return toInstance(row);
  }

  /** The org's live instance of an offering, if any (an agent slug resolves to it for runs). */
  async activeFor(orgId: string, offeringSlug: string): Promise<Instance | null> {
    const row = await this.base().where('i.org_id', orgId).where('o.slug', offeringSlug).where('i.status', 'active').orderBy('i.created_at', 'desc').first();
    return row ? toInstance(row) : null;
  }

  async byOrder(orderId: string): Promise<Instance[]> {
    return (await this.base().where('i.order_id', orderId).orderBy('i.order_line')).map(toInstance);
  }
}
