// The lost-webhook sweep: Saleor's paid orders of a window that have no row in
// our orders table.
import type { OrderStore } from '../../core/orders/store';
import type { SaleorClient } from '../../core/saleor/client';
import { SALEOR_METADATA_KEYS } from '../../core/saleor/contract';
import { classifyFailures } from '../failures';

export function createSweepActivities(deps: { orders: OrderStore; saleor: SaleorClient }) {
  async function findUnseenPaidOrders(input: { windowHours: number }): Promise<string[]> {
    const since = new Date(Date.now() - input.windowHours * 3600_000);
    const paid = await deps.saleor.listPaidOrdersSince(since);
    if (!paid.length) return [];
    const seen = await deps.orders.known(paid.map((o) => o.id));
    return paid.filter((o) => !seen.has(o.id) && o.metadata[SALEOR_METADATA_KEYS.status] !== 'fulfilled').map((o) => o.id);
  }
  return classifyFailures({ findUnseenPaidOrders });
}

export type SweepActivities = ReturnType<typeof createSweepActivities>;
