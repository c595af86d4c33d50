// What CMP counts, in Prometheus's conventions: base units (seconds,
// millicredits), `_total` counters, histograms for latencies, and bounded label
// values only (never a run, order or org id). Each recorder is a no-op while
// metrics are switched off.
import { Counter, Gauge, Histogram } from 'prom-client';
import { EGRESS_REFUSALS, type EgressRefusal } from '../connectors/errors';
import type { LedgerObserver } from '../ledger';
import { metricsEnabled, registry } from './registry';

const registers = [registry];

// ── runs ─────────────────────────────────────────────────────────────────────

export type RunOutcomeLabel = 'succeeded' | 'refused' | 'rate_limited' | 'failed' | 'timed_out';

const runOutcomes = new Counter({
  name: 'cmp_run_outcomes_total', help: 'Agent runs by outcome (refused: insufficient credits; rate_limited: answered 429 before starting)',
  labelNames: ['outcome'] as const, registers,
});
const runAddedLatency = new Histogram({
  name: 'cmp_run_added_latency_seconds', help: "What the run path adds to the agent runtime's own time (API answer minus runtime latency), succeeded synchronous runs",
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers,
});
const runRuntimeLatency = new Histogram({
  name: 'cmp_run_runtime_latency_seconds', help: 'Time the agent runtime took to answer a succeeded run',
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10, 30], registers,
});
const runCharged = new Counter({ name: 'cmp_run_charged_millicredits_total', help: 'Credits charged for runs, in millicredits', registers });

// Every label value from the start (at 0), so rates and alerts see a series before the first event.
for (const outcome of ['succeeded', 'refused', 'rate_limited', 'failed', 'timed_out'] as const) runOutcomes.labels(outcome).inc(0);

export function recordRunOutcome(outcome: RunOutcomeLabel, detail: { chargedMc?: number; runtimeSeconds?: number } = {}): void {
  if (!metricsEnabled()) return;
  runOutcomes.labels(outcome).inc();
  if (detail.chargedMc) runCharged.inc(detail.chargedMc);
  if (detail.runtimeSeconds !== undefined) runRuntimeLatency.observe(detail.runtimeSeconds);
}

export function recordRunAddedLatency(seconds: number): void {
  if (!metricsEnabled()) return;
  runAddedLatency.observe(Math.max(0, seconds));
}

// ── ledger ───────────────────────────────────────────────────────────────────

const holdEvents = new Counter({
  name: 'cmp_ledger_hold_events_total', help: 'Credit holds placed, settled, released and expired (voided by the sweep)',
  labelNames: ['event'] as const, registers,
});
const batchSize = new Histogram({
  name: 'cmp_ledger_batch_operations', help: 'Operations per ledger group commit',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 500], registers,
});
const batchCommit = new Histogram({
  name: 'cmp_ledger_batch_commit_seconds', help: 'Time one ledger group commit took (from batch start to its results)',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers,
});
const batchFailures = new Counter({ name: 'cmp_ledger_batch_failures_total', help: 'Ledger batches that failed as a whole (database error)', registers });
const invariantViolations = new Gauge({
  name: 'cmp_ledger_invariant_violations', help: "Violations the last ledger invariant check found (0: all hold); set by housekeeping's check", registers,
});
const invariantCheckedAt = new Gauge({ name: 'cmp_ledger_invariant_check_timestamp_seconds', help: 'When the ledger invariants were last checked (Unix time)', registers });

for (const event of ['placed', 'settled', 'released', 'expired'] as const) holdEvents.labels(event).inc(0);

/** The ledger's observer (core/ledger calls it once per committed batch). */
export const ledgerMetrics: LedgerObserver = {
  batchCommitted(ops, results, seconds) {
    if (!metricsEnabled()) return;
    batchCommit.observe(seconds);
    batchSize.observe(ops.length);
    if (!results) {
      batchFailures.inc();
      return;
    }
    let placed = 0;
    let settled = 0;
    let released = 0;
    let expired = 0;
    ops.forEach((op, i) => {
      const r = results[i];
      if (!r?.ok) return;
      if (op.type === 'hold') placed++;
      else if (op.type === 'settle') settled++;
      else if (op.type === 'release') released++;
      else if (op.type === 'expire' && typeof r.value === 'number') expired += r.value; // holds voided
    });
    if (placed) holdEvents.labels('placed').inc(placed);
    if (settled) holdEvents.labels('settled').inc(settled);
    if (released) holdEvents.labels('released').inc(released);
    if (expired) holdEvents.labels('expired').inc(expired);
  },
};

export function recordInvariantCheck(violations: number): void {
  invariantViolations.set(violations);
  invariantCheckedAt.set(Date.now() / 1000);
}

// ── orders and webhooks ──────────────────────────────────────────────────────

const paidToActive = new Histogram({
  name: 'cmp_order_paid_to_active_seconds', help: 'From payment (the webhook) to the order fulfilled with its instances active',
  buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900], registers,
});

export function recordOrderActivated(paidAt: Date | null): void {
  if (!metricsEnabled() || !paidAt) return;
  paidToActive.observe(Math.max(0, (Date.now() - paidAt.getTime()) / 1000));
}

export type WebhookResult = 'accepted' | 'duplicate' | 'rejected';

const webhookDeliveries = new Counter({
  name: 'cmp_webhook_deliveries_total', help: 'Webhook deliveries by result; reason says why one was rejected (bad-signature, unknown-key, …)',
  labelNames: ['source', 'result', 'reason'] as const, registers,
});
for (const result of ['accepted', 'duplicate'] as const) webhookDeliveries.labels('saleor', result, '').inc(0);
webhookDeliveries.labels('saleor', 'rejected', 'bad-signature').inc(0);

export function recordWebhookDelivery(source: 'saleor', result: WebhookResult, reason = ''): void {
  if (!metricsEnabled()) return;
  webhookDeliveries.labels(source, result, reason).inc();
}

// ── connectors ───────────────────────────────────────────────────────────────

const connectorCalls = new Counter({
  name: 'cmp_connector_calls_total', help: 'Connector tool calls by outcome (succeeded, failed, refused, rejected)', labelNames: ['outcome'] as const, registers,
});
const egressRefusals = new Counter({
  name: 'cmp_connector_egress_refusals_total', help: 'Requests the connector egress guard refused, by reason', labelNames: ['reason'] as const, registers,
});
for (const outcome of ['succeeded', 'failed', 'refused', 'rejected'] as const) connectorCalls.labels(outcome).inc(0);
for (const reason of EGRESS_REFUSALS) egressRefusals.labels(reason).inc(0);

export function recordConnectorOutcome(outcome: 'succeeded' | 'failed' | 'refused' | 'rejected'): void {
  if (!metricsEnabled()) return;
  connectorCalls.labels(outcome).inc();
}

export function recordEgressRefusal(reason: EgressRefusal): void {
  if (!metricsEnabled()) return;
  egressRefusals.labels(reason).inc();
}
