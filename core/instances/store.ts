// Instances: an organization's subscription to an offering version on a plan.
// Every tenant-facing read is filtered by org_id; every write to `instances`
// goes through this store.
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

/** What a run needs of the instance it runs on: its version and its plan's prices and limits. */
export interface RunTarget {
  orgId: string;
  instanceId: string;
  offeringId: string;
  versionId: string;
  pricePerRunMc: number;
  pricePer1kTokensMc: number;
  keyLimit: number;
  orgLimit: number;
}

export interface NewInstance {
  instanceId: string;
  orderId: string;
  line: number;
  orgId: string;
  offeringId: string;
  versionId: string;
  planId: string;
  workflowId: string;
}

export interface InstanceStore {
  list(orgId: string, opts?: { includeDeprovisioned?: boolean }): Promise<Instance[]>;
  get(orgId: string, id: string): Promise<Instance>;
  /** Without tenant filter: for workflows and support, never for tenant-facing routes. */
  getAny(id: string): Promise<Instance>;
  /** The org's live instance of an offering, if any (an agent slug resolves to it for runs). */
  activeFor(orgId: string, offeringSlug: string): Promise<Instance | null>;
  byOrder(orderId: string): Promise<Instance[]>;
  /** The org's active instance to run, by agent slug (newest first) and/or id; null when there is none. */
  runTarget(orgId: string, which: { slug?: string; instanceId?: string | null }): Promise<RunTarget | null>;

  /** The instance of an order line, created once ((order, line) is unique); returns the id of the one stored. */
  create(input: NewInstance): Promise<string>;
  /** The order's unfinished instances follow its state (provisioning, or parked as needs_attention with the error). */
  followOrder(orderId: string, status: 'provisioning' | 'needs_attention', error: unknown): Promise<void>;
  setRuntimeFlow(instanceId: string, flowId: string): Promise<void>;
  setGitopsCommit(instanceIds: string[], sha: string): Promise<void>;
  /** Active (unless deprovisioned meanwhile); the first activation time is kept. */
  activate(instanceId: string): Promise<void>;
  beginDeprovision(instanceId: string): Promise<void>;
  markDeprovisioned(instanceId: string): Promise<void>;
}

export class KnexInstanceStore implements InstanceStore {
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

  async getAny(id: string): Promise<Instance> {
    if (!UUID.test(id)) throw notFound(`Instance ${id}`);
    const row = await this.base().where('i.id', id).first();
    if (!row) throw notFound(`Instance ${id}`);
    return toInstance(row);
  }

  async activeFor(orgId: string, offeringSlug: string): Promise<Instance | null> {
    const row = await this.base().where('i.org_id', orgId).where('o.slug', offeringSlug).where('i.status', 'active').orderBy('i.created_at', 'desc').first();
    return row ? toInstance(row) : null;
  }

  async byOrder(orderId: string): Promise<Instance[]> {
    return (await this.base().where('i.order_id', orderId).orderBy('i.order_line')).map(toInstance);
  }

  async runTarget(orgId: string, which: { slug?: string; instanceId?: string | null }): Promise<RunTarget | null> {
    const row = await this.db('instances as i')
      .join('offerings as o', 'o.id', 'i.offering_id')
      .join('plans as p', 'p.id', 'i.plan_id')
      .where({ 'i.org_id': orgId, 'i.status': 'active' })
      .modify((q) => {
        if (which.slug) q.where('o.slug', which.slug);
        if (which.instanceId) q.where('i.id', which.instanceId);
      })
      .orderBy('i.created_at', 'desc')
      .first('i.id', 'i.offering_id', 'i.offering_version_id', 'p.price_per_run_mc', 'p.price_per_1k_tokens_mc', 'p.rate_limit_per_minute', 'p.org_rate_limit_per_minute');
    if (!row) return null;
    return {
      orgId, instanceId: row.id, offeringId: row.offering_id, versionId: row.offering_version_id, pricePerRunMc: row.price_per_run_mc,
      pricePer1kTokensMc: row.price_per_1k_tokens_mc, keyLimit: row.rate_limit_per_minute, orgLimit: row.org_rate_limit_per_minute,
    };
  }

  async create(input: NewInstance): Promise<string> {
    const { db } = this;
    await db('instances')
      .insert({
        id: input.instanceId, org_id: input.orgId, offering_id: input.offeringId, offering_version_id: input.versionId, plan_id: input.planId,
        status: 'provisioning', order_id: input.orderId, order_line: input.line, workflow_id: input.workflowId,
      })
      .onConflict(['order_id', 'order_line'])
      .ignore();
    const row = await db('instances').where({ order_id: input.orderId, order_line: input.line }).first('id', 'offering_version_id', 'status');
    // A retry after support fixed the catalog may resolve a newer version.
    if (row.offering_version_id !== input.versionId && row.status !== 'active') {
      await db('instances').where('id', row.id).update({ offering_version_id: input.versionId, updated_at: db.fn.now() });
    }
    return row.id;
  }

  async followOrder(orderId: string, status: 'provisioning' | 'needs_attention', error: unknown): Promise<void> {
    await this.db('instances')
      .where('order_id', orderId)
      .whereIn('status', ['pending', 'provisioning', 'needs_attention'])
      .update({ status, last_error: error ? JSON.stringify(error) : null, updated_at: this.db.fn.now() });
  }

  async setRuntimeFlow(instanceId: string, flowId: string): Promise<void> {
    await this.db('instances').where('id', instanceId).update({ runtime_flow_id: flowId, updated_at: this.db.fn.now() });
  }

  async setGitopsCommit(instanceIds: string[], sha: string): Promise<void> {
    await this.db('instances').whereIn('id', instanceIds).update({ gitops_commit_sha: sha, updated_at: this.db.fn.now() });
  }

  async activate(instanceId: string): Promise<void> {
    const { db } = this;
    await db('instances')
      .where('id', instanceId)
      .whereNot('status', 'deprovisioned')
      .update({ status: 'active', last_error: null, activated_at: db.raw('coalesce(activated_at, now())'), updated_at: db.fn.now() });
  }

  async beginDeprovision(instanceId: string): Promise<void> {
    await this.db('instances').where('id', instanceId).whereNot('status', 'deprovisioned').update({ status: 'deprovisioning', updated_at: this.db.fn.now() });
  }

  async markDeprovisioned(instanceId: string): Promise<void> {
    const { db } = this;
    await db('instances')
      .where('id', instanceId)
      .update({ status: 'deprovisioned', deprovisioned_at: db.raw('coalesce(deprovisioned_at, now())'), updated_at: db.fn.now() });
  }
}
