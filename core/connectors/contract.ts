// The connector gateway's contract: task queue, workflow id, the call request
// and its outcome. The API starts connectorCall and waits for its result.
import type { ToolCall } from './tools';

export const CONNECTORS_TASK_QUEUE = 'connectors';
export const connectorCallWorkflowId = (callId: string) => `conn-${callId}`;
/** The ledger id of a call's charge: a hold placed before the tool runs, posted after it answered. */
export const connectorChargeId = (callId: string) => `conn:${callId}`;

export interface ConnectorCallRequest {
  callId: string;
  bindingId: string;
  /** From the verified run token (or the API key of the MCP endpoint): whose binding, which run. */
  orgId: string;
  instanceId: string;
  runId: string | null;
  call: ToolCall;
  /** The whole call's deadline: secret read, tool, retries. */
  deadlineMs: number;
  /** Deadline of one tool attempt. */
  toolTimeoutMs: number;
}

export interface ConnectorProblem {
  /** A problem type of core/errors.ts. */
  type: string;
  title: string;
  detail: string;
  extensions?: Record<string, unknown>;
}

export type ConnectorCallOutcome =
  | {
      status: 'succeeded';
      callId: string;
      upstreamStatus: number;
      contentType: string | null;
      body: unknown;
      chargedMc: number;
      durationMs: number;
    }
  | { status: 'failed' | 'refused' | 'rejected'; callId: string; problem: ConnectorProblem; durationMs: number };
