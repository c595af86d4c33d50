// The run path's contract: task queue, workflow id, the update the API waits
// on (Update-with-Start, so the caller gets the output as soon as it is
// settled, before the run row is written), and the outcome shapes.
import { defineQuery, defineUpdate } from '@temporalio/workflow';

export const RUNS_TASK_QUEUE = 'runs';
export const runWorkflowId = (runId: string) => `run-${runId}`;

export interface RunRequest {
  runId: string;
  /** Whose wallet pays: an organization's wallet or a demo visitor's. */
  payer: { kind: 'org'; orgId: string } | { kind: 'demo'; visitorId: string };
  offeringId: string;
  instanceId: string | null;
  versionId: string;
  apiKeyId: string | null;
  input: string;
  sessionId?: string;
  /** The most this run may cost: the hold. */
  holdMc: number;
  pricePerRunMc: number;
  pricePer1kTokensMc: number;
  timeoutMs: number;
  /** Publish the output as the runtime produces it on the run's stream channel (core/runs/run-stream.ts). */
  stream?: boolean;
}

export type RunOutcome =
  | {
      status: 'succeeded';
      runId: string;
      output: string;
      chargedMc: number;
      balanceMc: number;
      latencyMs: number;
      runtimeLatencyMs: number;
      usage: { inputTokens: number; outputTokens: number } | null;
    }
  | { status: 'rejected'; runId: string; reason: 'insufficient_credits'; availableMc: number; requiredMc: number }
  | { status: 'timed_out' | 'failed'; runId: string; error: { type: string; message: string }; latencyMs: number };

export const runResultUpdate = defineUpdate<RunOutcome>('result');
export const runOutcomeQuery = defineQuery<RunOutcome | null>('outcome');
