// runWithCreditHold (`run-<runId>`): hold the run's maximum cost → run the
// agent's flow on the runtime (artifact fetched and sha256-checked, cached by
// hash) → finish: settle what it used (the rest is released), or release the
// hold on any failure or timeout, and record the run. Every step is a local
// activity, so a run is one workflow task; the caller waits on the `result`
// update, answered when that task completes. A worker crash replays the same
// ids: the hold and its settlement happen once.
import { ApplicationFailure, condition, patched, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { RunActivities } from '../../activities/runs';
import { decodeFailure } from '../failures';
import { runActivityOptions } from '../retry-policies';
import { runOutcomeQuery, runResultUpdate, type RunOutcome, type RunRequest } from '../../core/runs/contract';

const ledger = proxyLocalActivities<RunActivities>(runActivityOptions.ledger);
// Recording is local too: a regular activity would cost the server a second workflow task and an activity task per
// run, which on this dev server halves the runs per second; the row insert itself takes a few milliseconds.
const recorder = proxyLocalActivities<RunActivities>(runActivityOptions.recorder);

export function runCost(req: Pick<RunRequest, 'holdMc' | 'pricePerRunMc' | 'pricePer1kTokensMc'>, tokens: number): number {
  return Math.min(req.holdMc, req.pricePerRunMc + Math.ceil((tokens * req.pricePer1kTokensMc) / 1000));
}

/** Settles or releases the run's hold and records it; `outcome` carries the balance once settled. */
async function finish(req: RunRequest, outcome: RunOutcome): Promise<RunOutcome> {
  if (patched('finish-run-in-one-step')) {
    const { balanceMc } = await ledger.finishRun({ req, outcome });
    return outcome.status === 'succeeded' ? { ...outcome, balanceMc: balanceMc ?? outcome.balanceMc } : outcome;
  }
  // Runs whose history was written by workers from before finishRun (their markers name these three steps).
  let finished = outcome;
  if (outcome.status === 'succeeded') {
    finished = { ...outcome, balanceMc: (await ledger.settleHold({ runId: req.runId, payer: req.payer, amountMc: outcome.chargedMc })).balanceMc };
  } else if (outcome.status !== 'rejected') {
    await ledger.releaseHold({ runId: req.runId });
  }
  await recorder.recordRun({ req, outcome: finished });
  return finished;
}

export async function runWithCreditHold(req: RunRequest): Promise<RunOutcome> {
  if (!req?.runId || !Number.isSafeInteger(req.holdMc) || req.holdMc <= 0 || !(req.timeoutMs > 0)) {
    throw ApplicationFailure.nonRetryable('runWithCreditHold needs a run id, a positive hold and a timeout', 'InvalidInput');
  }
  let outcome: RunOutcome | null = null;
  setHandler(runOutcomeQuery, () => outcome);
  setHandler(runResultUpdate, async () => {
    await condition(() => outcome !== null);
    return outcome!;
  });

  const hold = await ledger.placeHold({ runId: req.runId, payer: req.payer, holdMc: req.holdMc, timeoutMs: req.timeoutMs });
  if (!hold.ok) {
    outcome = await finish(req, { status: 'rejected', runId: req.runId, reason: 'insufficient_credits', availableMc: hold.availableMc, requiredMc: req.holdMc });
    return outcome;
  }

  const runtime = proxyLocalActivities<RunActivities>(runActivityOptions.runtime(req.timeoutMs));
  let result: Awaited<ReturnType<RunActivities['executeRun']>>;
  try {
    result = await runtime.executeRun({
      versionId: req.versionId, input: req.input, sessionId: req.sessionId, timeoutMs: req.timeoutMs,
      ...(req.stream ? { streamRunId: req.runId } : {}),
      // Runs of an org's instance may call its connectors: the activity mints a run-scoped token for them.
      ...(req.instanceId && req.payer.kind === 'org' ? { runToken: { orgId: req.payer.orgId, instanceId: req.instanceId, runId: req.runId } } : {}),
    });
  } catch (err) {
    const { type, message, timedOut } = decodeFailure(err);
    outcome = await finish(req, {
      status: type === 'RuntimeTimeoutError' || timedOut ? 'timed_out' : 'failed', runId: req.runId, latencyMs: 0,
      error: { type, message },
    });
    return outcome;
  }

  const tokens = result.usage ? result.usage.inputTokens + result.usage.outputTokens : 0;
  const charged = runCost(req, tokens);
  // balanceMc is the wallet's after settlement: finish fills it in.
  outcome = await finish(req, {
    status: 'succeeded', runId: req.runId, output: result.text, chargedMc: charged, balanceMc: 0,
    latencyMs: result.latencyMs, runtimeLatencyMs: result.latencyMs, usage: result.usage,
  });
  return outcome;
}
