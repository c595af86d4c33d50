// connectorCall (`conn-<callId>`): a flow calls an outside tool through the
// gateway. Authorize the binding for the token's org and instance → hold the
// call's price → read the secret from Vault (retried until the call's
// deadline) → execute the tool (retried only when the operation is declared
// idempotent) → settle the charge, or release it when the call failed → write
// the audit record. Nothing is charged for a failed call.
import { ApplicationFailure, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ConnectorActivities } from '../../activities/connectors';
import { decodeFailure } from '../failures';
import { connectorActivityOptions } from '../retry-policies';
import { CmpInstanceId, CmpOrgId } from '../shared/search-attributes';
import type { ConnectorCallOutcome, ConnectorCallRequest, ConnectorProblem } from '../../core/connectors/contract';

const db = proxyActivities<ConnectorActivities>(connectorActivityOptions.database);

/** What a failed tool or secret step means to the caller, by the failure's type. */
function problemFor(err: unknown, deadlineMs: number): ConnectorProblem {
  const failure = decodeFailure(err);
  const details = (failure.details ?? {}) as Record<string, unknown>;
  if (failure.timedOut) {
    return { type: 'upstream-timeout', title: 'Connector call timed out', detail: `The call did not complete within its deadline of ${deadlineMs} ms` };
  }
  switch (failure.type) {
    case 'EgressRefusedError':
      return { type: 'egress-refused', title: 'Egress refused', detail: failure.message, extensions: details };
    case 'ToolTimeoutError':
      return { type: 'upstream-timeout', title: 'Tool timed out', detail: failure.message };
    case 'ToolRejectedError':
    case 'ToolUnavailableError':
      return { type: 'upstream-unavailable', title: 'Tool call failed', detail: failure.message, extensions: details };
    case 'SecretStoreUnavailableError':
      return { type: 'service-unavailable', title: 'Secret store unavailable', detail: failure.message };
    case 'SecretStoreRejectedError':
      return { type: 'internal', title: 'Connector secret unavailable', detail: failure.message };
    case 'validation':
      return { type: 'validation', title: 'Invalid request', detail: failure.message, extensions: details };
    case 'ConnectorRefusedError':
      return { type: 'forbidden', title: 'Operation not allowed', detail: failure.message };
    default:
      return { type: 'upstream-unavailable', title: 'Tool call failed', detail: failure.message };
  }
}

export async function connectorCall(req: ConnectorCallRequest): Promise<ConnectorCallOutcome> {
  if (!req?.callId || !req.bindingId || !req.orgId || !req.instanceId || !req.call?.operation || !(req.deadlineMs > 0) || !(req.toolTimeoutMs > 0)) {
    throw ApplicationFailure.nonRetryable('connectorCall needs a call id, a binding, an org, an instance, an operation and deadlines', 'InvalidInput');
  }
  upsertSearchAttributes([{ key: CmpOrgId, value: req.orgId }, { key: CmpInstanceId, value: req.instanceId }]);
  const startedAt = Date.now();
  const deadlineAt = workflowInfo().startTime.getTime() + req.deadlineMs;
  const elapsed = () => Date.now() - startedAt;
  const base = { callId: req.callId, bindingId: req.bindingId, orgId: req.orgId, instanceId: req.instanceId, runId: req.runId, operation: req.call.operation };

  const auth = await db.authorizeCall({ bindingId: req.bindingId, orgId: req.orgId, instanceId: req.instanceId, operation: req.call.operation });
  if (!auth.ok) {
    // A refused call leaves no row: the binding it names may not be this org's, and the audit row references a binding.
    return { status: 'refused', callId: req.callId, problem: auth.problem, durationMs: elapsed() };
  }
  const { binding, idempotent, priceMc } = auth;

  if (priceMc > 0) {
    const hold = await db.holdCallCredits({ callId: req.callId, orgId: req.orgId, amountMc: priceMc, timeoutMs: req.deadlineMs });
    if (!hold.ok) {
      const problem: ConnectorProblem = {
        type: 'insufficient-credits', title: 'Insufficient credits', detail: `This call needs ${priceMc} millicredits; ${hold.availableMc} are available`,
        extensions: { available_mc: hold.availableMc, required_mc: priceMc },
      };
      await db.recordConnectorCall({ ...base, status: 'rejected', upstreamStatus: null, errorType: problem.type, durationMs: elapsed(), requestBytes: 0, responseBytes: 0, chargedMc: 0 });
      return { status: 'rejected', callId: req.callId, problem, durationMs: elapsed() };
    }
  }

  // Every step after the hold shares what is left of the call's deadline.
  const remaining = () => Math.max(1, deadlineAt - Date.now());
  let answer: Awaited<ReturnType<ConnectorActivities['executeToolCall']>>;
  try {
    const vault = proxyActivities<ConnectorActivities>(connectorActivityOptions.vault(remaining()));
    const secret = await vault.readConnectorSecret({ callId: req.callId, path: binding.secret.path }).catch((err: unknown) => {
      const failure = decodeFailure(err);
      if (failure.timedOut || failure.type === 'SecretStoreUnavailableError') {
        throw ApplicationFailure.nonRetryable(`The connector's secret could not be read from the secret store within the call's deadline of ${req.deadlineMs} ms`, 'SecretStoreUnavailableError');
      }
      throw err;
    });
    const tool = proxyActivities<ConnectorActivities>(connectorActivityOptions.tool(req.toolTimeoutMs, remaining(), idempotent));
    answer = await tool.executeToolCall({ callId: req.callId, binding, call: req.call, sealed: secret.sealed });
  } catch (err) {
    const problem = problemFor(err, req.deadlineMs);
    if (priceMc > 0) await db.releaseCallCredits({ callId: req.callId });
    const upstream = problem.extensions?.upstream_status;
    await db.recordConnectorCall({
      ...base, status: 'failed', upstreamStatus: typeof upstream === 'number' ? upstream : null, errorType: problem.type, durationMs: elapsed(),
      requestBytes: 0, responseBytes: 0, chargedMc: 0,
    });
    return { status: 'failed', callId: req.callId, problem, durationMs: elapsed() };
  }

  if (priceMc > 0) await db.settleCallCredits({ callId: req.callId, amountMc: priceMc });
  await db.recordConnectorCall({
    ...base, status: 'succeeded', upstreamStatus: answer.upstreamStatus, errorType: null, durationMs: elapsed(),
    requestBytes: answer.requestBytes, responseBytes: answer.responseBytes, chargedMc: priceMc,
  });
  return {
    status: 'succeeded', callId: req.callId, upstreamStatus: answer.upstreamStatus, contentType: answer.contentType, body: answer.body,
    chargedMc: priceMc, durationMs: elapsed(),
  };
}
