// Activities of connectorCall, over injected clients: the binding store, the
// secret store (Vault), the ledger and the egress guard. The secret leaves
// readConnectorSecret sealed for this one call, so Temporal's history (and
// its UI) only ever holds ciphertext; executeToolCall opens it in memory.
import { ApplicationFailure } from '@temporalio/common';
import type { ConnectorStore, ConnectorCallRecord } from '../../core/connectors/store';
import type { EgressGuard } from '../../core/connectors/egress';
import { ConnectorRefusedError, EgressRefusedError } from '../../core/connectors/errors';
import { recordConnectorOutcome, recordEgressRefusal } from '../../core/metrics/business';
import { openSealedSecret, sealSecret } from '../../core/connectors/secrets';
import { MCP_LIST_TOOLS, authorizeOperation, callTool, operationIsIdempotent, type ToolAnswer, type ToolCall } from '../../core/connectors/tools';
import type { ConnectorBinding } from '../../core/connectors/types';
import { AppError, InsufficientCreditsError } from '../../core/errors';
import type { Ledger } from '../../core/ledger';
import { SecretStoreRejectedError, type SecretStore } from '../../core/secrets';
import { connectorChargeId, type ConnectorProblem } from '../../core/connectors/contract';
import { classifyFailures } from '../failures';

export interface ConnectorDeps {
  connectors: ConnectorStore;
  secrets: SecretStore;
  ledger: Ledger;
  guard: EgressGuard;
  /** Derives the key that seals a secret between two activities. */
  signingSecret: string;
}

/** Holds of a call outlive its deadline by this much; the expiry sweep voids any a crash left behind. */
export const CALL_HOLD_GRACE_MS = 120_000;

export type AuthorizedCall =
  | { ok: true; binding: ConnectorBinding; idempotent: boolean; priceMc: number }
  | { ok: false; problem: ConnectorProblem };

export function createConnectorActivities(deps: ConnectorDeps) {
  const { ledger } = deps;
  let revenue: Promise<string> | undefined;
  const revenueAccount = () => {
    revenue ??= ledger.ensureSystemAccount('revenue').then((a) => a.id);
    revenue.catch(() => (revenue = undefined));
    return revenue;
  };

  /** The token's org and instance must own the binding, and the binding must allow the operation. */
  async function authorizeCall(input: { bindingId: string; orgId: string; instanceId: string; operation: string }): Promise<AuthorizedCall> {
    const binding = await deps.connectors.forRun(input.orgId, input.instanceId, input.bindingId);
    if (!binding) return { ok: false, problem: { type: 'not-found', title: 'Not found', detail: `Connector ${input.bindingId} was not found` } };
    try {
      authorizeOperation(binding, input.operation);
    } catch (err) {
      if (err instanceof ConnectorRefusedError) return { ok: false, problem: { type: err.type, title: err.title, detail: err.message } };
      throw err;
    }
    const listing = binding.type === 'mcp' && input.operation === MCP_LIST_TOOLS;
    return { ok: true, binding, idempotent: operationIsIdempotent(binding, input.operation), priceMc: listing ? 0 : binding.pricePerCallMc };
  }

  async function holdCallCredits(input: { callId: string; orgId: string; amountMc: number; timeoutMs: number }): Promise<{ ok: true } | { ok: false; availableMc: number }> {
    const [wallet, rev] = await Promise.all([ledger.ensureWallet(input.orgId), revenueAccount()]);
    try {
      await ledger.hold({
        id: connectorChargeId(input.callId), debitAccountId: wallet.id, creditAccountId: rev, amount: input.amountMc,
        timeoutMs: input.timeoutMs + CALL_HOLD_GRACE_MS, reason: 'connector_call', metadata: { call_id: input.callId },
      });
      return { ok: true };
    } catch (err) {
      if (err instanceof InsufficientCreditsError) return { ok: false, availableMc: Number(err.extensions.available_mc) };
      throw err;
    }
  }

  async function settleCallCredits(input: { callId: string; amountMc: number }): Promise<void> {
    await ledger.settle({ id: `${connectorChargeId(input.callId)}:settle`, pendingId: connectorChargeId(input.callId), amount: input.amountMc, reason: 'connector_call' });
  }

  async function releaseCallCredits(input: { callId: string }): Promise<void> {
    await ledger.release({ id: `${connectorChargeId(input.callId)}:release`, pendingId: connectorChargeId(input.callId), reason: 'release' });
  }

  /** Reads the binding's secret; Vault being down is retryable, so the workflow's policy waits for it within the call's deadline. */
  async function readConnectorSecret(input: { callId: string; path: string }): Promise<{ sealed: string; version: number }> {
    const secret = await deps.secrets.read(input.path);
    if (!secret) throw new SecretStoreRejectedError('invalid-request', `The connector's secret is missing at ${input.path}`);
    return { sealed: sealSecret(deps.signingSecret, input.callId, secret.data), version: secret.version };
  }

  async function executeToolCall(input: { callId: string; binding: ConnectorBinding; call: ToolCall; sealed: string }): Promise<ToolAnswer> {
    const secret = openSealedSecret(deps.signingSecret, input.callId, input.sealed);
    try {
      return await callTool(deps.guard, input.binding, input.call, secret);
    } catch (err) {
      if (err instanceof EgressRefusedError) recordEgressRefusal(err.reason);
      // Retryable failures keep their details (the tool's status) for the workflow's problem.
      if (err instanceof AppError && (err as { retryable?: boolean }).retryable) {
        throw ApplicationFailure.create({ message: err.message, type: err.name, nonRetryable: false, details: [err.extensions] });
      }
      throw err;
    }
  }

  async function recordConnectorCall(input: ConnectorCallRecord): Promise<void> {
    await deps.connectors.recordCall(input);
    recordConnectorOutcome(input.status);
  }

  return classifyFailures({ authorizeCall, holdCallCredits, settleCallCredits, releaseCallCredits, readConnectorSecret, executeToolCall, recordConnectorCall });
}

export type ConnectorActivities = ReturnType<typeof createConnectorActivities>;
