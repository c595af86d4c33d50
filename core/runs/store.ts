// Runs and demo visitors. The API writes a run's "running" row when it
// starts it; the run's workflow writes the finished one (either may come
// first: both are keyed by the run id). Every write to these tables goes
// through this store.
import type { Db } from '../db';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'timed_out' | 'rejected';

export interface Run {
  id: string;
  orgId: string | null;
  demoVisitorId: string | null;
  instanceId: string | null;
  offeringId: string;
  apiKeyId: string | null;
  status: RunStatus;
  holdTransferId: string | null;
  holdMc: number | null;
  costMc: number | null;
  tokensIn: number | null;
  tokensOut: number | null;
  latencyMs: number | null;
  output: string | null;
  error: unknown;
  createdAt: Date;
  finishedAt: Date | null;
}

interface RunRow {
  id: string;
  org_id: string | null;
  demo_visitor_id: string | null;
  instance_id: string | null;
  offering_id: string;
  api_key_id: string | null;
  status: RunStatus;
  hold_transfer_id: string | null;
  hold_mc: number | null;
  cost_mc: number | null;
  tokens_in: number | null;
  tokens_out: number | null;
  latency_ms: number | null;
  output: string | null;
  error: unknown;
  created_at: Date;
  finished_at: Date | null;
}

const toRun = (r: RunRow): Run => ({
  id: r.id, orgId: r.org_id, demoVisitorId: r.demo_visitor_id, instanceId: r.instance_id, offeringId: r.offering_id, apiKeyId: r.api_key_id,
  status: r.status, holdTransferId: r.hold_transfer_id, holdMc: r.hold_mc, costMc: r.cost_mc, tokensIn: r.tokens_in, tokensOut: r.tokens_out,
  latencyMs: r.latency_ms, output: r.output, error: r.error, createdAt: r.created_at, finishedAt: r.finished_at,
});

/** Who started a run, on what, and how much it holds. */
export type RunStart = Pick<Run, 'id' | 'orgId' | 'demoVisitorId' | 'instanceId' | 'offeringId' | 'apiKeyId'> & { holdMc: number };

/** How a run ended. */
export interface RunFinish extends RunStart {
  status: Exclude<RunStatus, 'running'>;
  holdTransferId: string | null;
  costMc: number;
  tokensIn: number | null;
  tokensOut: number | null;
  latencyMs: number | null;
  output: string | null;
  error: unknown;
}

export interface UsageDay {
  /** YYYY-MM-DD, UTC. */
  date: string;
  runs: number;
  failedRuns: number;
  creditsMc: number;
  tokens: number;
}

export interface RunStore {
  /** The "running" row, so the run is visible at once; a no-op when the finished one came first. */
  recordStart(run: RunStart): Promise<void>;
  recordFinish(run: RunFinish): Promise<void>;
  /** The run, if it belongs to one of these organizations. */
  get(runId: string, orgIds: string[]): Promise<Run | null>;
  /** Per UTC day since `since`, only the days with runs. */
  usageByDay(orgId: string, since: Date): Promise<UsageDay[]>;
  /** Demo runs that succeeded or are running from visitors of this address in the last 24 hours. */
  demoRunsToday(ipHash: string): Promise<number>;
}

const startRow = (run: RunStart) => ({
  id: run.id, org_id: run.orgId, demo_visitor_id: run.demoVisitorId, instance_id: run.instanceId, offering_id: run.offeringId,
  api_key_id: run.apiKeyId, hold_mc: run.holdMc,
});

export class KnexRunStore implements RunStore {
  constructor(private readonly db: Db) {}

  async recordStart(run: RunStart): Promise<void> {
    await this.db('runs').insert({ ...startRow(run), status: 'running' }).onConflict('id').ignore();
  }

  async recordFinish(run: RunFinish): Promise<void> {
    await this.db('runs')
      .insert({
        ...startRow(run), status: run.status, hold_transfer_id: run.holdTransferId, cost_mc: run.costMc, tokens_in: run.tokensIn,
        tokens_out: run.tokensOut, latency_ms: run.latencyMs, output: run.output, error: run.error === null ? null : JSON.stringify(run.error),
        finished_at: this.db.fn.now(),
      })
      .onConflict('id')
      .merge();
  }

  async get(runId: string, orgIds: string[]): Promise<Run | null> {
    if (orgIds.length === 0) return null;
    const row = await this.db<RunRow>('runs').where('id', runId).whereIn('org_id', orgIds).first();
    return row ? toRun(row) : null;
  }

  async usageByDay(orgId: string, since: Date): Promise<UsageDay[]> {
    const { db } = this;
    const rows = await db('runs')
      .where('org_id', orgId)
      .where('created_at', '>=', since)
      .select(db.raw("to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as date"))
      .select(db.raw("count(*) filter (where status = 'succeeded')::int as runs"))
      .select(db.raw("count(*) filter (where status in ('failed', 'timed_out'))::int as failed_runs"))
      .select(db.raw('coalesce(sum(cost_mc), 0)::bigint as credits_mc'))
      .select(db.raw('coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0)::bigint as tokens'))
      .groupBy('date');
    return rows.map((r: Record<string, any>) => ({ date: r.date, runs: r.runs, failedRuns: r.failed_runs, creditsMc: Number(r.credits_mc), tokens: Number(r.tokens) }));
  }

  async demoRunsToday(ipHash: string): Promise<number> {
    const [row] = await this.db('runs as r')
      .join('demo_visitors as v', 'v.id', 'r.demo_visitor_id')
      .where('v.ip_hash', ipHash)
      .where('r.created_at', '>', this.db.raw("now() - interval '24 hours'"))
      .whereIn('r.status', ['succeeded', 'running'])
      .count<{ n: string }[]>('r.id as n');
    return Number(row?.n ?? 0);
  }
}

/** Visitors trying agents without an account; an address's visitor of the day is found again without its cookie. */
export interface DemoVisitorStore {
  exists(id: string): Promise<boolean>;
  /** The first visitor this address had in the last 24 hours, else a new one. */
  forAddress(ipHash: string): Promise<string>;
}

export class KnexDemoVisitorStore implements DemoVisitorStore {
  constructor(private readonly db: Db) {}

  async exists(id: string): Promise<boolean> {
    return (await this.db('demo_visitors').where('id', id).first('id')) !== undefined;
  }

  async forAddress(ipHash: string): Promise<string> {
    const recent = await this.db('demo_visitors')
      .where('ip_hash', ipHash)
      .where('created_at', '>', this.db.raw("now() - interval '24 hours'"))
      .orderBy('created_at')
      .first('id');
    if (recent) return recent.id;
    const [created] = await this.db('demo_visitors').insert({ ip_hash: ipHash }).returning<{ id: string }[]>('id');
    return created!.id;
  }
}
