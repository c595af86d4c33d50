// Gauges read from the database when Prometheus scrapes (OperationsStore):
// registered by one process per deployment (the housekeeping worker), so the
// same figure is not exported by every replica.
import { Gauge } from 'prom-client';
import type { Db } from '../db';
import { OperationsStore } from './operations-store';
import { registry } from './registry';

/** Every order status, so a status with no orders reads 0 rather than vanishing. */
const ORDER_STATUSES = ['received', 'provisioning', 'needs_attention', 'fulfilled', 'cancelling', 'cancelled', 'failed'];

/** How long past its timeout an open hold may stay before it counts as leaked: the sweep runs every minute. */
export const HOLD_LEAK_GRACE_SECONDS = 120;

export function registerOperationalGauges(db: Db): () => void {
  const store = new OperationsStore(db);
  const registers = [registry];
  // One read per scrape serves several gauges: the first collect starts it, the others share it.
  let holds: Promise<Awaited<ReturnType<OperationsStore['openHolds']>>> | null = null;
  let orders: Promise<Awaited<ReturnType<OperationsStore['orders']>>> | null = null;
  const readHolds = () => (holds ??= store.openHolds(HOLD_LEAK_GRACE_SECONDS).finally(() => setImmediate(() => (holds = null))));
  const readOrders = () => (orders ??= store.orders().finally(() => setImmediate(() => (orders = null))));

  const gauges = [
    new Gauge({ name: 'cmp_ledger_open_holds', help: 'Credit holds neither settled nor released yet', registers, async collect() {
      this.set((await readHolds()).count);
    } }),
    new Gauge({ name: 'cmp_ledger_oldest_open_hold_age_seconds', help: 'Age of the oldest open credit hold', registers, async collect() {
      this.set((await readHolds()).oldestAgeSeconds);
    } }),
    new Gauge({
      name: 'cmp_ledger_holds_past_timeout', help: `Open holds more than ${HOLD_LEAK_GRACE_SECONDS} s past their timeout (the expiry sweep should have voided them)`,
      registers, async collect() {
        this.set((await readHolds()).pastTimeout);
      },
    }),
    new Gauge({ name: 'cmp_orders', help: 'Orders by status', labelNames: ['status'] as const, registers, async collect() {
      const snap = await readOrders();
      this.reset();
      for (const s of ORDER_STATUSES) this.labels(s).set(0);
      for (const r of snap.byStatus) this.labels(r.status).set(r.count);
    } }),
    new Gauge({ name: 'cmp_orders_parked', help: 'Orders parked for support (needs_attention) by the step they failed at', labelNames: ['step'] as const, registers, async collect() {
      const snap = await readOrders();
      this.reset();
      for (const r of snap.parkedByStep) this.labels(r.step).set(r.count);
    } }),
    new Gauge({ name: 'cmp_orders_parked_oldest_age_seconds', help: 'How long the longest-parked order has waited for support (0: none parked)', registers, async collect() {
      this.set((await readOrders()).oldestParkedAgeSeconds);
    } }),
    new Gauge({
      name: 'cmp_orders_awaiting_activation_oldest_age_seconds', help: 'Seconds since payment of the oldest paid order not yet active (0: none waiting)',
      registers, async collect() {
        this.set((await readOrders()).oldestAwaitingActivationSeconds);
      },
    }),
  ];
  const names = gauges.map((g) => (g as unknown as { name: string }).name);
  return () => {
    for (const name of names) registry.removeSingleMetric(name);
  };
}
