// The agent runtime port: where flows are registered and executed. Langflow is
// the production implementation (langflow-runtime.ts); the run-path benchmark
// points the same client at a zero-latency stand-in (test/support/fake-runtime.ts).
import { AppError } from '../errors';

/** A Langflow flow export, as stored in S3 (only the parts CMP reads are typed). */
export interface FlowExport {
  name?: string;
  description?: string | null;
  endpoint_name?: string | null;
  data: { nodes: FlowNode[]; edges: FlowEdge[]; viewport?: unknown };
  [key: string]: unknown;
}

export interface FlowNode {
  id: string;
  type?: string;
  data: { id?: string; type: string; node?: { template?: Record<string, unknown>; [key: string]: unknown }; [key: string]: unknown };
  [key: string]: unknown;
}

export interface FlowEdge {
  id?: string;
  source: string;
  target: string;
  data?: { sourceHandle?: { name?: string }; targetHandle?: { fieldName?: string } };
  [key: string]: unknown;
}

export interface EnsureFlowInput {
  /** Display name in the runtime; unique per runtime user. */
  name: string;
  /** The stable address runs use: POST /api/v1/run/{endpointName}. Letters, digits, '-' and '_'. */
  endpointName: string;
  flow: FlowExport;
  description?: string;
}

export interface EnsureFlowResult {
  flowId: string;
  /** created: new flow; updated: an existing flow differed from the artifact and was replaced; unchanged: already current. */
  outcome: 'created' | 'updated' | 'unchanged';
}

/** Langflow's "tweaks": per-node (by id or display name) input overrides for one run. */
export type Tweaks = Record<string, Record<string, unknown>>;

export interface RunInput {
  input: string;
  sessionId?: string;
  tweaks?: Tweaks;
}

export interface RunOptions {
  /** Whole-request deadline; the runtime's LANGFLOW_RUN_TIMEOUT_MS when absent. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface RunResult {
  text: string;
  /** Present only when the flow reports token usage (flows with an LLM); deterministic flows use none. */
  usage?: TokenUsage;
  sessionId?: string;
  /** Wall-clock time of the HTTP call, as CMP saw it. */
  latencyMs: number;
  /** The runtime's parsed response, for debugging and audit. */
  raw: unknown;
}

export interface RuntimeHealth {
  ok: boolean;
  latencyMs: number;
  detail?: unknown;
}

export interface AgentRuntime {
  health(opts?: { timeoutMs?: number }): Promise<RuntimeHealth>;
  ensureFlow(input: EnsureFlowInput): Promise<EnsureFlowResult>;
  run(flowIdOrEndpoint: string, input: RunInput, opts?: RunOptions): Promise<RunResult>;
  /** Runs a flow, handing its output text to `onText` piece by piece as the runtime produces it; resolves with the whole result. */
  stream?(flowIdOrEndpoint: string, input: RunInput, opts: RunOptions & { onText(text: string): void }): Promise<RunResult>;
  close(): Promise<void>;
}

/**
 * Base of the runtime's errors. `retryable` tells activities whether a retry
 * can help; the class name is the Temporal failure type, so a retry policy can
 * list the permanent ones in nonRetryableErrorTypes.
 */
export class RuntimeError extends AppError {
  constructor(
    type: 'upstream-unavailable' | 'upstream-timeout',
    detail: string,
    readonly retryable: boolean,
    readonly upstreamStatus?: number,
  ) {
    super(type, type === 'upstream-timeout' ? 'Agent runtime timed out' : 'Agent runtime error', detail, upstreamStatus ? { upstream_status: upstreamStatus } : {});
    this.name = 'RuntimeError';
  }
}

/** The runtime did not answer within the deadline. Retryable in principle; the run path voids its hold instead. */
export class RuntimeTimeoutError extends RuntimeError {
  constructor(readonly timeoutMs: number, what: string) {
    super('upstream-timeout', `${what} did not answer within ${timeoutMs} ms`, true);
    this.name = 'RuntimeTimeoutError';
  }
}

/** 5xx, 429 or a network failure: the runtime may recover, so retry with backoff. */
export class RuntimeUnavailableError extends RuntimeError {
  constructor(detail: string, upstreamStatus?: number) {
    super('upstream-unavailable', detail, true, upstreamStatus);
    this.name = 'RuntimeUnavailableError';
  }
}

/** A 4xx (unknown flow, rejected flow, bad key) or an answer without text: retrying the same call cannot help. */
export class RuntimeRequestError extends RuntimeError {
  constructor(detail: string, upstreamStatus?: number) {
    super('upstream-unavailable', detail, false, upstreamStatus);
    this.name = 'RuntimeRequestError';
  }
}

/** Error class names a Temporal retry policy should not retry. */
export const NON_RETRYABLE_RUNTIME_ERRORS = ['RuntimeRequestError'] as const;
