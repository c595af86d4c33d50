// Starting an organization's run: the one path that POST /v1/runs and the
// MCP `run_agent` tool share. Find the instance and its plan, admit the call
// under the plan's per-key and per-organization rate limits, size the hold,
// write the "running" row, and start runWithCreditHold with Update-with-Start,
// waiting for its result up to a bound.
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import type { Config } from '../../core/config';
import type { InstanceStore, RunTarget } from '../../core/instances/store';
import { recordRunOutcome } from '../../core/metrics/business';
import type { RateDecision, RateLimiter } from '../../core/runs/rate-limiter';
import type { RunStore } from '../../core/runs/store';
import { runResultUpdate, runWorkflowId, type RunOutcome, type RunRequest } from '../../core/runs/contract';

/** Token-priced plans hold room for this many tokens on top of the per-run price. */
const HOLD_TOKEN_ALLOWANCE = 4000;

export type { RunTarget };

export function createRunStarter(deps: { instances: InstanceStore; runs: RunStore; limiter: RateLimiter; temporal: Client; config: Config; taskQueue: string }) {
  const { temporal, config, limiter } = deps;

  return {
    limiter,

    /** The org's active instance, by agent slug (newest first) or by id; null when there is none. */
    async findTarget(orgId: string, which: { slug?: string; instanceId?: string | null }): Promise<RunTarget | null> {
      return deps.instances.runTarget(orgId, which);
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
      await deps.runs.recordStart({
        id: run.runId, orgId: run.payer.kind === 'org' ? run.payer.orgId : null, demoVisitorId: run.payer.kind === 'demo' ? run.payer.visitorId : null,
        instanceId: run.instanceId, offeringId: run.offeringId, apiKeyId: run.apiKeyId, holdMc: run.holdMc,
      });
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
