// Per-offering usage for its publisher: subscriptions, runs, failures and
// credits charged per UTC day. Days without activity are present with zeros,
// so a chart's bars line up with the calendar.
import type { Db } from '../db';

export interface OfferingDay {
  date: string;
  subscriptions: number;
  runs: number;
  failedRuns: number;
  /** What buyers' wallets were charged (settled runs of organizations; demo runs are free). */
  creditsMc: number;
}

export interface OfferingStats {
  days: OfferingDay[];
  /** Instances not deprovisioned or failed, today. */
  activeInstances: number;
}

export class OfferingStatsStore {
  constructor(private readonly db: Db) {}

  async daily(offeringId: string, days = 30): Promise<OfferingStats> {
    const { rows } = await this.db.raw(
      `with d as (
         select generate_series((now() at time zone 'utc')::date - (?::int - 1), (now() at time zone 'utc')::date, interval '1 day')::date as day
       ),
       s as (
         select (created_at at time zone 'utc')::date as day, count(*) as subscriptions
         from instances where offering_id = ? and created_at >= (now() at time zone 'utc')::date - (?::int - 1)
         group by 1
       ),
       r as (
         select (created_at at time zone 'utc')::date as day, count(*) as runs,
                count(*) filter (where status in ('failed', 'timed_out')) as failed_runs,
                coalesce(sum(cost_mc) filter (where org_id is not null), 0) as credits_mc
         from runs where offering_id = ? and created_at >= (now() at time zone 'utc')::date - (?::int - 1)
         group by 1
       )
       select to_char(d.day, 'YYYY-MM-DD') as date, coalesce(s.subscriptions, 0) as subscriptions, coalesce(r.runs, 0) as runs,
              coalesce(r.failed_runs, 0) as failed_runs, coalesce(r.credits_mc, 0) as credits_mc
       from d left join s on s.day = d.day left join r on r.day = d.day
       order by d.day`,
      [days, offeringId, days, offeringId, days],
    );
    const active = await this.db('instances').where('offering_id', offeringId).whereNotIn('status', ['deprovisioned', 'failed']).count<{ count: string }[]>('* as count');
    return {
      days: (rows as Record<string, string>[]).map((r) => ({
        date: r.date!, subscriptions: Number(r.subscriptions), runs: Number(r.runs), failedRuns: Number(r.failed_runs), creditsMc: Number(r.credits_mc),
      })),
      activeInstances: Number(active[0]?.count ?? 0),
    };
  }
}
