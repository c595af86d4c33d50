// The lost-webhook sweep: Saleor's paid orders of a window that have no row in
// our orders table.
import type { Db } from '../../core/db';
import type { SaleorClient } from '../../core/saleor/client';
import { SALEOR_METADATA_KEYS } from '../../core/saleor/contract';
import { classifyFailures } from '../failures';

export function createSweepActivities(deps: { db: Db; saleor: SaleorClient }) {
  async function findUnseenPaidOrders(input: { windowHours: number }): Promise<string[]> {
    const since = new Date(Date.now() - input.windowHours * 3600_000);
    const paid = await deps.saleor.listPaidOrdersSince(since);
    if (!paid.length) return [];
    const seen = new Set((await deps.db('orders').whereIn('saleor_order_id', paid.map((o) => o.id)).select('saleor_order_id')).map((r) => r.saleor_order_id as string));
    return paid.filter((o) => !seen.has(o.id) && o.metadata[SALEOR_METADATA_KEYS.status] !== 'fulfilled').map((o) => o.id);
  }
  return classifyFailures({ findUnseenPaidOrders });
}

export type SweepActivities = ReturnType<typeof createSweepActivities>;
