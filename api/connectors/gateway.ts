// Starts one connectorCall workflow and waits for its outcome. Used by the
// invoke route (run tokens) and by the instance MCP endpoint (API keys).
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from '../../core/config';
import type { ToolCall } from '../../core/connectors/tools';
import { AppError, type ProblemType, problemTypes } from '../../core/errors';
import { connectorCallWorkflowId, type ConnectorCallOutcome, type ConnectorCallRequest } from '../../core/connectors/contract';

export interface GatewayDeps {
  temporal: Client;
  config: Config;
  taskQueue: string;
}

export interface Invocation {
  bindingId: string;
  orgId: string;
  instanceId: string;
  runId: string | null;
  call: ToolCall;
  /** The caller's Idempotency-Key: the same key within a run lands on the same call. */
  idempotencyKey?: string;
}

const SAFE_KEY = /^[A-Za-z0-9_-]{1,64}$/;

/** The call's id: `<runId>-<key>` when the caller gave a key (so a retry is the same workflow), else a new uuid. */
export function callIdFor(inv: Pick<Invocation, 'runId' | 'idempotencyKey'>): string {
  if (inv.idempotencyKey && SAFE_KEY.test(inv.idempotencyKey)) return `${inv.runId ?? 'mcp'}-${inv.idempotencyKey}`;
  return randomUUID();
}

export async function executeConnectorCall(deps: GatewayDeps, inv: Invocation): Promise<ConnectorCallOutcome> {
  const callId = callIdFor(inv);
  const req: ConnectorCallRequest = {
    callId, bindingId: inv.bindingId, orgId: inv.orgId, instanceId: inv.instanceId, runId: inv.runId, call: inv.call,
    deadlineMs: deps.config.CONNECTOR_CALL_TIMEOUT_MS, toolTimeoutMs: deps.config.CONNECTOR_TOOL_TIMEOUT_MS,
  };
  const workflowId = connectorCallWorkflowId(callId);
  try {
    return await deps.temporal.workflow.execute('connectorCall', {
      workflowId, taskQueue: deps.taskQueue, args: [req],
      // A repeated key joins the running call, or reads the finished one's result: the tool runs once.
      workflowIdConflictPolicy: 'USE_EXISTING', workflowIdReusePolicy: 'REJECT_DUPLICATE',
      // The workflow bounds its own steps by deadlineMs; this catches a lost worker.
      workflowExecutionTimeout: deps.config.CONNECTOR_CALL_TIMEOUT_MS + 30_000,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return deps.temporal.workflow.getHandle(workflowId).result();
    throw err;
  }
}

/** The outcome of a call that did not succeed, as the problem+json the caller sees. */
export function outcomeError(outcome: Exclude<ConnectorCallOutcome, { status: 'succeeded' }>): AppError {
  const type = (outcome.problem.type in problemTypes ? outcome.problem.type : 'internal') as ProblemType;
  return new AppError(type, outcome.problem.title, outcome.problem.detail, { ...outcome.problem.extensions, call_id: outcome.callId });
}
