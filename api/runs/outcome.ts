// What a run's outcome means to an API client: the one mapping of refused,
// timed-out and failed runs onto the error taxonomy, shared by POST /v1/runs
// (JSON or streamed) and the OpenAI-compatible endpoints.
import { AppError, InsufficientCreditsError } from '../../core/errors';
import type { RunOutcome } from '../../core/runs/contract';

/** A streamed run's failure type when its workflow's result could not be read (terminated, or Temporal unreachable). */
export const RUN_RESULT_LOST = 'RunResultLost';

export function runOutcomeError(outcome: Exclude<RunOutcome, { status: 'succeeded' }>, runId: string): AppError {
  if (outcome.status === 'rejected') return new InsufficientCreditsError(outcome.availableMc, outcome.requiredMc);
  if (outcome.status === 'timed_out') {
    return new AppError('upstream-timeout', 'Agent timed out', `The agent did not answer in time; nothing was charged (run ${runId})`, { run_id: runId });
  }
  if (outcome.error.type === RUN_RESULT_LOST) {
    // Whether it was charged is unknown here (the run may have settled before its workflow ended): say where to look.
    return new AppError('upstream-unavailable', 'Run result unavailable', `The run's result could not be read: ${outcome.error.message}; GET /v1/runs/${runId} shows how it ended`, { run_id: runId });
  }
  return new AppError('upstream-unavailable', 'Agent failed', `The agent failed: ${outcome.error.message}; nothing was charged (run ${runId})`, { run_id: runId });
}

/** The Run resource of a finished, successful run. */
export function runView(outcome: Extract<RunOutcome, { status: 'succeeded' }>, latencyMs: number) {
  return {
    run_id: outcome.runId, status: 'succeeded' as const, output: outcome.output, credits_charged: outcome.chargedMc / 1000, credits_charged_mc: outcome.chargedMc,
    balance_mc: outcome.balanceMc, latency_ms: latencyMs,
    usage: outcome.usage ? { input_tokens: outcome.usage.inputTokens, output_tokens: outcome.usage.outputTokens } : null,
  };
}
