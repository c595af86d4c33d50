// Usage of the current organization: runs, credits and tokens per day.
import { Router, type RequestHandler } from 'express';
import type { Db } from '../../core/db';
import type { TenancyStore } from '../../core/tenancy/store';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { orgOf } from '../org-context';

export interface UsageRouteDeps {
  api: ApiDefinition;
  db: Db;
  tenancy: TenancyStore;
  requireUser: RequestHandler;
}

const daySchema = z.object({ date: z.string(), runs: z.number().int(), failed_runs: z.number().int(), credits_mc: z.number().int(), tokens: z.number().int() });

export function createUsageRouter(deps: UsageRouteDeps): Router {
  const router = Router();
  deps.api.route(router, {
    method: 'get', path: '/v1/usage', summary: 'Runs, credits and tokens per day (UTC), oldest first, with totals', tags: ['Usage'], auth: 'user', use: [deps.requireUser],
    query: z.object({ days: z.coerce.number().int().min(1).max(366).default(30) }),
    responses: { 200: { description: 'Usage', schema: z.object({ days: z.array(daySchema), totals: daySchema.omit({ date: true }) }) } },
  }, async (req, res, { query }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const { rows } = await deps.db.raw(
      `select to_char(d.day, 'YYYY-MM-DD') as date,
              count(r.id) filter (where r.status = 'succeeded')::int as runs,
              count(r.id) filter (where r.status in ('failed', 'timed_out'))::int as failed_runs,
              coalesce(sum(r.cost_mc), 0)::bigint as credits_mc,
              coalesce(sum(coalesce(r.tokens_in, 0) + coalesce(r.tokens_out, 0)), 0)::bigint as tokens
         from generate_series((now() at time zone 'utc')::date - (?::int - 1), (now() at time zone 'utc')::date, interval '1 day') as d(day)
         left join runs r on r.org_id = ? and (r.created_at at time zone 'utc')::date = d.day
        group by d.day order by d.day`,
      [query.days, orgId],
    );
    const days = (rows as Array<{ date: string; runs: number; failed_runs: number; credits_mc: number; tokens: number }>).map((r) => ({
      date: r.date, runs: r.runs, failed_runs: r.failed_runs, credits_mc: Number(r.credits_mc), tokens: Number(r.tokens),
    }));
    const totals = days.reduce(
      (t, d) => ({ runs: t.runs + d.runs, failed_runs: t.failed_runs + d.failed_runs, credits_mc: t.credits_mc + d.credits_mc, tokens: t.tokens + d.tokens }),
      { runs: 0, failed_runs: 0, credits_mc: 0, tokens: 0 },
    );
    res.json({ days, totals });
  });
  return router;
}
