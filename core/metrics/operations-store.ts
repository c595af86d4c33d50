// What operators watch that lives in the database, read at scrape time: open
// credit holds (and how many are past their timeout: a leak the expiry sweep
// should have voided), orders by status, orders parked for support by step,
// and how long the oldest paid order has waited to become active. Each read
// runs on one connection whose statements PostgreSQL cancels after
// READ_TIMEOUT_MS, so a slow database never piles up scrape queries.
import type { Db } from '../db';
import { KnexOrderStore } from '../orders/store';

export const READ_TIMEOUT_MS = 5000;

export interface OpenHolds {
  count: number;
  oldestAgeSeconds: number;
  /** Open holds whose timeout passed more than `graceSeconds` ago. */
  pastTimeout: number;
}

export interface OrderSnapshot {
  byStatus: Record<string, number>;
  parkedByStep: { step: string; count: number }[];
  oldestParkedAgeSeconds: number;
  /** Oldest paid order not yet fulfilled (received, provisioning or parked), seconds since payment. */
  oldestAwaitingActivationSeconds: number;
}

export class OperationsStore {
  constructor(private readonly db: Db) {}

  private bounded<T>(read: (db: Db) => Promise<T>): Promise<T> {
    return this.db.transaction(async (trx) => {
      await trx.raw(`set local statement_timeout = ${READ_TIMEOUT_MS}`);
      return read(trx);
    });
  }

  /** Every hold timing out at or before ledger_expiry.swept_to is resolved, so only later ones are read (the partial index). */
  openHolds(graceSeconds: number): Promise<OpenHolds> {
    return this.bounded(async (db) => {
      const { rows: [row] } = await db.raw<{ rows: { count: number; oldest: number | null; past: number }[] }>(
        `select count(*)::int as count,
                coalesce(extract(epoch from now() - min(p.created_at)), 0)::float8 as oldest,
                count(*) filter (where p.timeout_at < now() - make_interval(secs => ?))::int as past
         from transfers p
         where p.kind = 'pending'
           and p.timeout_at > coalesce((select swept_to from ledger_expiry), '-infinity'::timestamptz)
           and not exists (select 1 from transfers r where r.pending_id = p.id)`,
        [graceSeconds],
      );
      return { count: row?.count ?? 0, oldestAgeSeconds: row?.oldest ?? 0, pastTimeout: row?.past ?? 0 };
    });
  }

  /** The store's count by status, then one pass over the unfinished orders grouped by step for the parked counts and the ages. */
  orders(): Promise<OrderSnapshot> {
    return this.bounded(async (db) => {
      const byStatus = await new KnexOrderStore(db).countByStatus();
      const { rows } = await db.raw<{ rows: { step: string; parked: number; parked_age: number; awaiting_age: number }[] }>(
        `select coalesce(current_step, 'unknown') as step,
                count(*) filter (where status = 'needs_attention')::int as parked,
                coalesce(extract(epoch from now() - min(updated_at) filter (where status = 'needs_attention')), 0)::float8 as parked_age,
                coalesce(extract(epoch from now() - min(paid_at) filter (where kind = 'paid' and paid_at is not null)), 0)::float8 as awaiting_age
         from orders
         where status in ('received', 'provisioning', 'needs_attention')
         group by 1`,
      );
      return {
        byStatus,
        parkedByStep: rows.filter((r) => r.parked > 0).map((r) => ({ step: r.step, count: r.parked })),
        oldestParkedAgeSeconds: Math.max(0, ...rows.map((r) => r.parked_age)),
        oldestAwaitingActivationSeconds: Math.max(0, ...rows.map((r) => r.awaiting_age)),
      };
    });
  }
}
