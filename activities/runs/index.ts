// Activities of runWithCreditHold. The ledger steps and the runtime call run as
// local activities in the worker (no extra round trip to Temporal per step);
// they are idempotent by the run id, so a replay after a crash repeats nothing
// that matters: the hold, its settlement or its release happen once.
import { log } from '@temporalio/activity';
import type { ArtifactStore } from '../../core/artifacts';
import type { CatalogStore } from '../../core/catalog/store';
import type { Db } from '../../core/db';
import type { RunStore } from '../../core/runs/store';
import { InsufficientCreditsError } from '../../core/errors';
import type { Ledger } from '../../core/ledger';
import { recordRunOutcome } from '../../core/metrics/business';
import type { AgentRuntime, FlowExport } from '../../core/runtime/agent-runtime';
import { createVersionFlows } from '../../core/runtime/version-flows';
import { nodesDeclaringRunToken, runTokenTweaks } from '../../core/connectors/flow-inputs';
import type { RunTokenIssuer } from '../../core/connectors/run-token';
import { createRunStreamPublisher } from '../../core/runs/run-stream-publisher';
import type { RunOutcome, RunRequest } from '../../core/runs/contract';
import { classifyFailures } from '../failures';

export interface RunDeps {
  db: Db;
  runs: RunStore;
  ledger: Ledger;
  catalog: CatalogStore;
  artifacts: ArtifactStore;
  runtime: AgentRuntime;
  /** Issues run-scoped connector tokens; without it flows get no token. */
  connectorTokens?: RunTokenIssuer;
}

export const holdId = (runId: string) => `hold:${runId}`;
/** Holds outlive the run's own deadline by this much; the expiry sweep voids any a crash left behind. */
export const HOLD_GRACE_MS = 120_000;

export function createRunActivities(deps: RunDeps) {
  const { ledger } = deps;
  // Account ids never change once made: cache them to keep the hot path to one ledger call.
  const wallets = new Map<string, Promise<string>>();
  let revenue: Promise<string> | undefined;
  // Per flow: its nodes that take a run token (see core/connectors/flow-inputs.ts).
  const tokenNodes = new WeakMap<FlowExport, string[]>();

  const once = (map: Map<string, Promise<string>>, key: string, make: () => Promise<string>) => {
    let p = map.get(key);
    if (!p) {
      p = make();
      map.set(key, p);
      p.catch(() => map.delete(key));
    }
    return p;
  };
  const walletOf = (payer: RunRequest['payer']) =>
    payer.kind === 'org'
      ? once(wallets, `org:${payer.orgId}`, async () => (await ledger.ensureWallet(payer.orgId)).id)
      : once(wallets, `demo:${payer.visitorId}`, async () => (await ledger.ensureDemoWallet(payer.visitorId)).id);
  const revenueAccount = () => {
    revenue ??= ledger.ensureSystemAccount('revenue').then((a) => a.id);
    revenue.catch(() => (revenue = undefined));
    return revenue;
  };

  /** The runtime's flow for a catalog version, registered once per worker. */
  const flowFor = createVersionFlows(deps, { recheckMs: Infinity });

  async function placeHold(input: { runId: string; payer: RunRequest['payer']; holdMc: number; timeoutMs: number }): Promise<{ ok: true } | { ok: false; availableMc: number }> {
    const [wallet, rev] = await Promise.all([walletOf(input.payer), revenueAccount()]);
    try {
      await ledger.hold({
        id: holdId(input.runId), debitAccountId: wallet, creditAccountId: rev, amount: input.holdMc, timeoutMs: input.timeoutMs + HOLD_GRACE_MS,
        reason: input.payer.kind === 'demo' ? 'demo_run' : 'run', runId: input.runId,
      });
      return { ok: true };
    } catch (err) {
      if (err instanceof InsufficientCreditsError) return { ok: false, availableMc: Number(err.extensions.available_mc) };
      throw err;
    }
  }

  async function executeRun(input: {
    versionId: string; input: string; sessionId?: string; timeoutMs: number; runToken?: { orgId: string; instanceId: string; runId: string };
    /** Streamed runs publish their output on this run's channel as the runtime produces it. */
    streamRunId?: string;
  }) {
    const { flowId, flow } = await flowFor(input.versionId);
    // Runs of an instance hand the flow a connector token (minted here, so it never enters Temporal's history).
    let nodes = tokenNodes.get(flow);
    if (!nodes) tokenNodes.set(flow, (nodes = nodesDeclaringRunToken(flow)));
    const tweaks = input.runToken && deps.connectorTokens && nodes.length > 0
      ? runTokenTweaks(nodes, await deps.connectorTokens.issue({ ...input.runToken, ttlMs: input.timeoutMs }), deps.connectorTokens.gatewayUrl)
      : undefined;
    const runInput = { input: input.input, sessionId: input.sessionId, ...(tweaks ? { tweaks } : {}) };
    let result;
    if (input.streamRunId) {
      // A lost chunk only delays the client to the final event, but an operator should see why it was lost.
      const publisher = createRunStreamPublisher(deps.db, input.streamRunId, (err) => log.warn('run stream chunk not published', { error: (err as Error).message }));
      if (deps.runtime.stream) {
        result = await deps.runtime.stream(flowId, runInput, { timeoutMs: input.timeoutMs, onText: (t) => publisher.push(t) });
      } else {
        // A runtime that cannot stream answers in one piece: that piece is the stream.
        result = await deps.runtime.run(flowId, runInput, { timeoutMs: input.timeoutMs });
        publisher.push(result.text);
      }
      await publisher.flush();
    } else {
      result = await deps.runtime.run(flowId, runInput, { timeoutMs: input.timeoutMs });
    }
    return { text: result.text, usage: result.usage ?? null, latencyMs: result.latencyMs };
  }

  const settle = (runId: string, amountMc: number) => ledger.settle({ id: `settle:${runId}`, pendingId: holdId(runId), amount: amountMc, runId });
  const availableOf = async (payer: RunRequest['payer']) => (await ledger.balance(await walletOf(payer))).available;

  async function settleHold(input: { runId: string; payer: RunRequest['payer']; amountMc: number }): Promise<{ balanceMc: number }> {
    await settle(input.runId, input.amountMc);
    return { balanceMc: await availableOf(input.payer) };
  }

  async function releaseHold(input: { runId: string }): Promise<void> {
    await ledger.release({ id: `release:${input.runId}`, pendingId: holdId(input.runId), runId: input.runId });
  }

  /** The run's row: inserted by the API when it starts (maybe not yet), completed here. */
  async function recordRun(input: { req: RunRequest; outcome: RunOutcome }): Promise<void> {
    const { req, outcome } = input;
    const ok = outcome.status === 'succeeded';
    await deps.runs.recordFinish({
      id: req.runId,
      orgId: req.payer.kind === 'org' ? req.payer.orgId : null,
      demoVisitorId: req.payer.kind === 'demo' ? req.payer.visitorId : null,
      instanceId: req.instanceId, offeringId: req.offeringId, apiKeyId: req.apiKeyId, holdMc: req.holdMc,
      status: outcome.status, holdTransferId: outcome.status === 'rejected' ? null : holdId(req.runId),
      costMc: ok ? outcome.chargedMc : 0,
      tokensIn: ok ? (outcome.usage?.inputTokens ?? null) : null,
      tokensOut: ok ? (outcome.usage?.outputTokens ?? null) : null,
      latencyMs: ok ? Math.round(outcome.runtimeLatencyMs) : null,
      output: ok ? outcome.output : null,
      error: ok ? null : outcome.status === 'rejected' ? { type: 'insufficient-credits', availableMc: outcome.availableMc } : outcome.error,
    });
    if (outcome.status === 'succeeded') recordRunOutcome('succeeded', { chargedMc: outcome.chargedMc, runtimeSeconds: outcome.runtimeLatencyMs / 1000 });
    else recordRunOutcome(outcome.status === 'rejected' ? 'refused' : outcome.status);
  }

  /**
   * The run's last step: settle its hold with what it cost (succeeded) or release it (failed, timed out; a refused
   * run has none), then record the run. One local activity, not two: each costs the workflow an activation and the
   * worker ~2 ms of CPU (docs/benchmarks.md). Idempotent by the run id like its parts, so a retry after the
   * settlement but before the record settles nothing twice.
   */
  async function finishRun(input: { req: RunRequest; outcome: RunOutcome }): Promise<{ balanceMc: number | null }> {
    const { req, outcome } = input;
    if (outcome.status === 'succeeded') {
      await settle(req.runId, outcome.chargedMc);
      // The balance after the settlement is read while the run is recorded: one round trip less.
      const [balanceMc] = await Promise.all([availableOf(req.payer), recordRun({ req, outcome })]);
      return { balanceMc };
    }
    if (outcome.status !== 'rejected') await releaseHold({ runId: req.runId });
    await recordRun({ req, outcome });
    return { balanceMc: null };
  }

  return classifyFailures({ placeHold, executeRun, finishRun, settleHold, releaseHold, recordRun });
}

export type RunActivities = ReturnType<typeof createRunActivities>;
