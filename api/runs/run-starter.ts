// Starting an organization's run: the one path that POST /v1/runs (JSON or
// streamed), the OpenAI-compatible endpoints and the MCP `run_agent` tool
// share. Admit the call under the plan's per-key and per-organization rate
// limits, size the hold, refuse a run the wallet cannot cover from one read,
// write the "running" row, and start runWithCreditHold: with
// Update-with-Start, waiting for its result up to a bound, or streamed.
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, type Client, type WorkflowStartOptions } from '@temporalio/client';
import type { Config } from '../../core/config';
import type { RunTarget } from '../../core/instances/store';
import { recordRunAddedLatency, recordRunOutcome } from '../../core/metrics/business';
import type { Ledger } from '../../core/ledger';
import type { RateDecision, RateLimiter } from '../../core/runs/rate-limiter';
import type { RunStreamHub } from '../../core/runs/run-stream-hub';
import { RunStreamAssembler } from '../../core/runs/run-stream';
import type { RunStore } from '../../core/runs/store';
import { runResultUpdate, runWorkflowId, type RunOutcome, type RunRequest } from '../../core/runs/contract';
import { RUN_RESULT_LOST } from './outcome';

/** Token-priced plans hold room for this many tokens on top of the per-run price. */
const HOLD_TOKEN_ALLOWANCE = 4000;

export interface StreamHandlers {
  /** Once, before the first byte: the hold is placed. */
  open(): void;
  text(text: string): void;
}

export interface StreamedRun {
  /** null when the client went away first (the run goes on and settles without it). */
  outcome: RunOutcome | null;
  opened: boolean;
  /** The live text was not a prefix of the final output (a retried step answered differently). */
  diverged: boolean;
}

type Refusal = Extract<RunOutcome, { status: 'rejected' }>;

/** Who starts a run with what: the key, its input, and the caller's cap on what the run may cost. */
export interface RunCall {
  apiKeyId: string;
  input: string;
  sessionId?: string;
  maxCreditsMc?: number;
}

export function createRunStarter(deps: {
  runs: RunStore; limiter: RateLimiter; temporal: Client; config: Config; taskQueue: string; streams?: RunStreamHub; ledger: Pick<Ledger, 'walletAvailable'>;
}) {
  const { temporal, config, limiter } = deps;

  const startOptions = (run: RunRequest) => ({
    workflowId: runWorkflowId(run.runId), taskQueue: deps.taskQueue, args: [run], workflowIdConflictPolicy: 'USE_EXISTING',
  }) satisfies WorkflowStartOptions;

  /** What the run path added to the runtime's own time, for every path that waits for a run (JSON, streamed, OpenAI, MCP). */
  const observe = (outcome: RunOutcome | null, startedAt: number) => {
    if (outcome?.status === 'succeeded') recordRunAddedLatency((performance.now() - startedAt - outcome.runtimeLatencyMs) / 1000);
  };

  /** The run: its hold is the plan's most a run can cost, or the caller's cap if lower. */
  const request = (target: RunTarget, call: RunCall): RunRequest => {
    const maxCost = target.pricePerRunMc + Math.ceil((HOLD_TOKEN_ALLOWANCE * target.pricePer1kTokensMc) / 1000);
    const holdMc = Math.max(1, Math.min(maxCost, call.maxCreditsMc ?? maxCost));
    return {
      runId: randomUUID(), payer: { kind: 'org', orgId: target.orgId }, offeringId: target.offeringId, instanceId: target.instanceId,
      versionId: target.versionId, apiKeyId: call.apiKeyId, input: call.input, sessionId: call.sessionId, holdMc,
      pricePerRunMc: target.pricePerRunMc, pricePer1kTokensMc: target.pricePer1kTokensMc, timeoutMs: config.LANGFLOW_RUN_TIMEOUT_MS,
    };
  };

  /** A refused run: counted, and its row written as the workflow would (not awaited: the answer does not depend on it). */
  const refuse = (run: RunRequest, availableMc: number): Refusal => {
    recordRunOutcome('refused');
    void deps.runs.recordFinish({
      id: run.runId, orgId: run.payer.kind === 'org' ? run.payer.orgId : null, demoVisitorId: run.payer.kind === 'demo' ? run.payer.visitorId : null,
      instanceId: run.instanceId, offeringId: run.offeringId, apiKeyId: run.apiKeyId, holdMc: run.holdMc, status: 'rejected', holdTransferId: null,
      costMc: 0, tokensIn: null, tokensOut: null, latencyMs: null, output: null, error: { type: 'insufficient-credits', availableMc },
    }).catch(() => undefined);
    return { status: 'rejected', runId: run.runId, reason: 'insufficient_credits', availableMc, requiredMc: run.holdMc };
  };

  return {
    /**
     * Every path that starts an org's run (runs, OpenAI, MCP) is admitted here, so refusals are counted here: the
     * call under the plan's per-key and per-organization rate limits, and its run sized. A run whose wallet cannot
     * cover its hold is refused before any workflow starts (one indexed read, made while the limits are counted,
     * instead of a workflow, its hold attempt and its history). The workflow's hold stays the authority: a run that
     * passes here and loses a race for the credits ends in the workflow's own refusal, the same 402.
     */
    async admit(target: RunTarget, call: RunCall): Promise<{ decision: RateDecision; run: RunRequest; refusal: Refusal | null }> {
      const run = request(target, call);
      const [decision, availableMc] = await Promise.all([
        limiter.consume([{ key: `key:${call.apiKeyId}`, limit: target.keyLimit }, { key: `org:${target.orgId}`, limit: target.orgLimit }]),
        deps.ledger.walletAvailable(run.payer),
      ]);
      if (!decision.allowed) {
        recordRunOutcome('rate_limited');
        return { decision, run, refusal: null };
      }
      return { decision, run, refusal: availableMc >= run.holdMc ? null : refuse(run, availableMc) };
    },

    /** The "running" row, so GET /v1/runs/{id} sees the run at once; the workflow writes the finished one. */
    async recordStart(run: RunRequest): Promise<void> {
      await deps.runs.recordStart({
        id: run.runId, orgId: run.payer.kind === 'org' ? run.payer.orgId : null, demoVisitorId: run.payer.kind === 'demo' ? run.payer.visitorId : null,
        instanceId: run.instanceId, offeringId: run.offeringId, apiKeyId: run.apiKeyId, holdMc: run.holdMc,
      });
    },

    /**
     * Starts the run's workflow and waits for its result update: at most `waitMs` (then null), or until it ends.
     * `startedAt` (performance.now() when the caller's request arrived) times what the run path added.
     */
    async execute(run: RunRequest, opts: { waitMs?: number; startedAt?: number } = {}): Promise<RunOutcome | null> {
      const startedAt = opts.startedAt ?? performance.now();
      const startWorkflowOperation = new WithStartWorkflowOperation('runWithCreditHold', startOptions(run));
      const result = temporal.workflow.executeUpdateWithStart(runResultUpdate, { startWorkflowOperation }) as Promise<RunOutcome>;
      let outcome: RunOutcome | null;
      if (opts.waitMs === undefined) {
        outcome = await result;
      } else {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), opts.waitMs)));
        try {
          outcome = await Promise.race([result, timeout]);
        } finally {
          clearTimeout(timer);
          result.catch(() => undefined);
        }
      }
      observe(outcome, startedAt);
      return outcome;
    },

    /**
     * A streamed run: the same workflow, started after this process listens on the run's channel, so the worker's
     * chunks reach whichever replica holds the client's connection. Nothing is handed to `handlers` before the hold
     * is placed: the first chunk (the runtime runs only after the hold) or the workflow's result opens the stream.
     * The final outcome comes from the workflow's result, never from the chunks, so a lost chunk costs latency, not
     * correctness; settlement is the workflow's and happens once whether or not the client is still there.
     */
    async stream(run: RunRequest, handlers: StreamHandlers, signal: AbortSignal, startedAt = performance.now()): Promise<StreamedRun> {
      if (!deps.streams) throw new Error('createRunStarter needs the run stream hub to stream runs');
      const assembler = new RunStreamAssembler();
      let opened = false;
      const open = () => {
        if (opened) return;
        opened = true;
        handlers.open();
      };
      const unsubscribe = await deps.streams.subscribe(run.runId, {
        chunk(chunk) {
          if (signal.aborted) return;
          open();
          const fresh = assembler.accept(chunk);
          if (fresh) handlers.text(fresh);
        },
        lost: () => assembler.interrupt(),
      });
      try {
        const handle = await temporal.workflow.start('runWithCreditHold', startOptions({ ...run, stream: true }));
        // The workflow's result (not an update): it survives a worker crash mid-run and follows the run to its end.
        // If it cannot be had (workflow terminated, Temporal unreachable), the client gets an error, not a cut stream.
        const result = (handle.result() as Promise<RunOutcome>).catch((err: unknown): RunOutcome => ({
          status: 'failed', runId: run.runId, latencyMs: 0, error: { type: RUN_RESULT_LOST, message: (err as Error).message },
        }));
        const gone = new Promise<null>((resolve) => {
          if (signal.aborted) resolve(null);
          signal.addEventListener('abort', () => resolve(null), { once: true });
        });
        const outcome = await Promise.race([result, gone]);
        observe(outcome, startedAt);
        if (!outcome) return { outcome: null, opened, diverged: false };
        if (outcome.status !== 'succeeded') return { outcome, opened, diverged: false };
        open();
        const { rest, diverged } = assembler.finish(outcome.output);
        if (rest) handlers.text(rest);
        return { outcome, opened, diverged };
      } finally {
        // Not awaited: the UNLISTEN queues behind other runs' commands on the hub's one connection, and the
        // client's last event must not wait for it (its errors are swallowed).
        void unsubscribe();
      }
    },
  };
}

export type RunStarter = ReturnType<typeof createRunStarter>;
