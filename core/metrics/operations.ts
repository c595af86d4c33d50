// Gauges read from the database when Prometheus scrapes (OperationsStore):
// registered by one process per deployment (the housekeeping worker), so the
// same figure is not exported by every replica. A read that fails or takes
// longer than READ_TIMEOUT_MS never fails the scrape (that would make the
// worker's `up` 0 and page as if the process were gone): the gauges keep their
// last values and cmp_operations_read_errors_total counts the failure.
import { Counter, Gauge } from 'prom-client';
import type { Db } from '../db';
import { ORDER_STATUSES } from '../provisioning/contract';
import { OperationsStore, READ_TIMEOUT_MS } from './operations-store';
import { registry } from './registry';

/** How long past its timeout an open hold may stay before it counts as leaked: the sweep runs every minute. */
const HOLD_LEAK_GRACE_SECONDS = 120;

type ReadName = 'holds' | 'orders';

/** Rejects once `ms` have passed (waiting for a pool connection is not bounded by statement_timeout). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export function registerOperationalGauges(db: Db): () => void {
  const store = new OperationsStore(db);
  const registers = [registry];
  const readErrors = new Counter({
    name: 'cmp_operations_read_errors_total', help: 'Scrape-time database reads that failed or timed out (their gauges kept their last values)',
    labelNames: ['read'] as const, registers,
  });
  for (const read of ['holds', 'orders'] as const) readErrors.labels(read).inc(0);

  // One read per scrape serves several gauges: the first collect starts it, the others share it.
  const sharedRead = <T>(name: ReadName, read: () => Promise<T>) => {
    let pending: Promise<T | undefined> | null = null;
    let last: T | undefined;
    return () => (pending ??= within(Promise.resolve().then(read), READ_TIMEOUT_MS)
      .then((value) => (last = value), () => {
        readErrors.labels(name).inc();
        return last;
      })
      .finally(() => setImmediate(() => (pending = null))));
  };
  const readHolds = sharedRead('holds', () => store.openHolds(HOLD_LEAK_GRACE_SECONDS));
  const readOrders = sharedRead('orders', () => store.orders());

  const gauges = [
    new Gauge({ name: 'cmp_ledger_open_holds', help: 'Credit holds neither settled nor released yet', registers, async collect() {
      const holds = await readHolds();
      if (holds) this.set(holds.count);
    } }),
    new Gauge({ name: 'cmp_ledger_oldest_open_hold_age_seconds', help: 'Age of the oldest open credit hold', registers, async collect() {
      const holds = await readHolds();
      if (holds) this.set(holds.oldestAgeSeconds);
    } }),
    new Gauge({
      name: 'cmp_ledger_holds_past_timeout', help: `Open holds more than ${HOLD_LEAK_GRACE_SECONDS} s past their timeout (the expiry sweep should have voided them)`,
      registers, async collect() {
        const holds = await readHolds();
        if (holds) this.set(holds.pastTimeout);
      },
    }),
    new Gauge({ name: 'cmp_orders', help: 'Orders by status', labelNames: ['status'] as const, registers, async collect() {
      const snap = await readOrders();
      if (!snap) return;
      this.reset();
      // Every status, so one with no orders reads 0 rather than vanishing.
      for (const s of ORDER_STATUSES) this.labels(s).set(0);
      for (const [status, count] of Object.entries(snap.byStatus)) this.labels(status).set(count);
    } }),
    new Gauge({ name: 'cmp_orders_parked', help: 'Orders parked for support (needs_attention) by the step they failed at', labelNames: ['step'] as const, registers, async collect() {
      const snap = await readOrders();
      if (!snap) return;
      this.reset();
      for (const r of snap.parkedByStep) this.labels(r.step).set(r.count);
    } }),
    new Gauge({ name: 'cmp_orders_parked_oldest_age_seconds', help: 'How long the longest-parked order has waited for support (0: none parked)', registers, async collect() {
      const snap = await readOrders();
      if (snap) this.set(snap.oldestParkedAgeSeconds);
    } }),
    new Gauge({
      name: 'cmp_orders_awaiting_activation_oldest_age_seconds', help: 'Seconds since payment of the oldest paid order not yet active (0: none waiting)',
      registers, async collect() {
        const snap = await readOrders();
        if (snap) this.set(snap.oldestAwaitingActivationSeconds);
      },
    }),
  ];
  const names = [...gauges, readErrors].map((m) => (m as unknown as { name: string }).name);
  return () => {
    for (const name of names) registry.removeSingleMetric(name);
  };
}
