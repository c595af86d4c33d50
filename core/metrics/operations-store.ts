// What operators watch that lives in the database, read at scrape time: open
// credit holds (and how many are past their timeout: a leak the expiry sweep
// should have voided), orders by status, orders parked for support by step,
// and how long the oldest paid order has waited to become active.
import type { Db } from '../db';

export interface OpenHolds {
  count: number;
  oldestAgeSeconds: number;
  /** Open holds whose timeout passed more than `graceSeconds` ago. */
  pastTimeout: number;
}

export interface OrderSnapshot {
  byStatus: { status: string; count: number }[];
  parkedByStep: { step: string; count: number }[];
  oldestParkedAgeSeconds: number;
  /** Oldest paid order not yet fulfilled (received, provisioning or parked), seconds since payment. */
  oldestAwaitingActivationSeconds: number;
}

export class OperationsStore {
  constructor(private readonly db: Db) {}

  /** Every hold timing out at or before ledger_expiry.swept_to is resolved, so only later ones are read (the partial index). */
  async openHolds(graceSeconds: number): Promise<OpenHolds> {
    const { rows: [row] } = await this.db.raw<{ rows: { count: number; oldest: number | null; past: number }[] }>(
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
  }

  async orders(): Promise<OrderSnapshot> {
    const [byStatus, parked, ages] = await Promise.all([
      this.db('orders').select('status').count<{ status: string; count: string }[]>('* as count').groupBy('status'),
      this.db('orders').where('status', 'needs_attention').select(this.db.raw("coalesce(current_step, 'unknown') as step"))
        .count<{ step: string; count: string }[]>('* as count').groupByRaw("coalesce(current_step, 'unknown')"),
      this.db.raw<{ rows: { parked: number; awaiting: number }[] }>(
        `select coalesce(extract(epoch from now() - min(updated_at) filter (where status = 'needs_attention')), 0)::float8 as parked,
                coalesce(extract(epoch from now() - min(paid_at) filter (where kind = 'paid' and paid_at is not null
                  and status in ('received', 'provisioning', 'needs_attention'))), 0)::float8 as awaiting
         from orders where status in ('received', 'provisioning', 'needs_attention')`,
      ),
    ]);
    return {
      byStatus: byStatus.map((r) => ({ status: r.status, count: Number(r.count) })),
      parkedByStep: parked.map((r) => ({ step: r.step, count: Number(r.count) })),
      oldestParkedAgeSeconds: ages.rows[0]?.parked ?? 0,
      oldestAwaitingActivationSeconds: ages.rows[0]?.awaiting ?? 0,
    };
  }
}
