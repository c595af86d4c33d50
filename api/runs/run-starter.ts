// Starting an organization's run: the one path that POST /v1/runs and the
// MCP `run_agent` tool share. Find the instance and its plan, admit the call
// under the plan's per-key and per-organization rate limits, size the hold,
// write the "running" row, and start runWithCreditHold with Update-with-Start,
// waiting for its result up to a bound.
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import type { Config } from '../../core/config';
import type { Db } from '../../core/db';
import { recordRunOutcome } from '../../core/metrics/business';
import { RateLimiter, type RateDecision } from '../../core/runs/rate-limiter';
import { runResultUpdate, runWorkflowId, type RunOutcome, type RunRequest } from '../../core/runs/contract';

/** Token-priced plans hold room for this many tokens on top of the per-run price. */
const HOLD_TOKEN_ALLOWANCE = 4000;

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

export function createRunStarter(deps: { db: Db; temporal: Client; config: Config; taskQueue: string }) {
  const { db, temporal, config } = deps;
  const limiter = new RateLimiter(db);

  return {
    limiter,

    /** The org's active instance, by agent slug (newest first) or by id; null when there is none. */
    async findTarget(orgId: string, which: { slug?: string; instanceId?: string | null }): Promise<RunTarget | null> {
      const row = await db('instances as i')
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
    },

    /** Counts the call against the key's and the organization's per-minute limits. */
    /** Every path that starts an org's run (runs, OpenAI, MCP) is admitted here, so the refusals are counted here. */
    async admit(target: RunTarget, apiKeyId: string): Promise<RateDecision> {
      const decision = await limiter.consume([{ key: `key:${apiKeyId}`, limit: target.keyLimit }, { key: `org:${target.orgId}`, limit: target.orgLimit }]);
      if (!decision.allowed) recordRunOutcome('rate_limited');
      return decision;
    },

    /** The run: its hold is the plan's most a run can cost, or the caller's cap if lower. */
    request(target: RunTarget, call: { apiKeyId: string; input: string; sessionId?: string; maxCreditsMc?: number }): RunRequest {
      const maxCost = target.pricePerRunMc + Math.ceil((HOLD_TOKEN_ALLOWANCE * target.pricePer1kTokensMc) / 1000);
      const holdMc = Math.max(1, Math.min(maxCost, call.maxCreditsMc ?? maxCost));
      return {
        runId: randomUUID(), payer: { kind: 'org', orgId: target.orgId }, offeringId: target.offeringId, instanceId: target.instanceId,
        versionId: target.versionId, apiKeyId: call.apiKeyId, input: call.input, sessionId: call.sessionId, holdMc,
        pricePerRunMc: target.pricePerRunMc, pricePer1kTokensMc: target.pricePer1kTokensMc, timeoutMs: config.LANGFLOW_RUN_TIMEOUT_MS,
      };
    },

    /** The "running" row, so GET /v1/runs/{id} sees the run at once; the workflow writes the finished one. */
    async recordStart(run: RunRequest): Promise<void> {
      await db('runs')
        .insert({
          id: run.runId, org_id: run.payer.kind === 'org' ? run.payer.orgId : null, demo_visitor_id: run.payer.kind === 'demo' ? run.payer.visitorId : null,
          instance_id: run.instanceId, offering_id: run.offeringId, api_key_id: run.apiKeyId, status: 'running', hold_mc: run.holdMc,
        })
        .onConflict('id')
        .ignore();
    },

    /** Starts the run's workflow and waits for its result update: at most `waitMs` (then null), or until it ends. */
    async execute(run: RunRequest, waitMs?: number): Promise<RunOutcome | null> {
      const startWorkflowOperation = new WithStartWorkflowOperation('runWithCreditHold', {
        workflowId: runWorkflowId(run.runId), taskQueue: deps.taskQueue, args: [run], workflowIdConflictPolicy: 'USE_EXISTING',
      });
      const result = temporal.workflow.executeUpdateWithStart(runResultUpdate, { startWorkflowOperation }) as Promise<RunOutcome>;
      if (waitMs === undefined) return result;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), waitMs)));
      try {
        return await Promise.race([result, timeout]);
      } finally {
        clearTimeout(timer);
        result.catch(() => undefined);
      }
    },
  };
}

export type RunStarter = ReturnType<typeof createRunStarter>;
