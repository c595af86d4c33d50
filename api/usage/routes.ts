// Usage of the current organization: runs, credits and tokens per day.
import { Router, type RequestHandler } from 'express';
import type { RunStore } from '../../core/runs/store';
import type { TenancyStore } from '../../core/tenancy/store';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { orgOf } from '../org-context';

export interface UsageRouteDeps {
  api: ApiDefinition;
  runs: RunStore;
  tenancy: TenancyStore;
  requireUser: RequestHandler;
}

const daySchema = z.object({ date: z.string(), runs: z.number().int(), failed_runs: z.number().int(), credits_mc: z.number().int(), tokens: z.number().int() });

export function createUsageRouter(deps: UsageRouteDeps): Router {
  const router = Router();
  deps.api.route(router, {
    method: 'get', path: '/v1/usage', summary: 'Runs, credits and tokens per day (UTC), oldest first, with totals', tags: ['Usage'], auth: 'user', workspaceRole: 'member', use: [deps.requireUser],
    query: z.object({ days: z.coerce.number().int().min(1).max(366).default(30) }),
    responses: { 200: { description: 'Usage', schema: z.object({ days: z.array(daySchema), totals: daySchema.omit({ date: true }) }) } },
  }, async (req, res, { query }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
    const since = new Date(today.getTime() - (query.days - 1) * 86_400_000);
    const rows = await deps.runs.usageByDay(orgId, since);
    const byDate = new Map(rows.map((r) => [r.date, r]));
    // Every day of the window, oldest first, zeros where nothing ran.
    const days = Array.from({ length: query.days }, (_, i) => {
      const date = new Date(since.getTime() + i * 86_400_000).toISOString().slice(0, 10);
      const r = byDate.get(date);
      return { date, runs: r?.runs ?? 0, failed_runs: r?.failedRuns ?? 0, credits_mc: r?.creditsMc ?? 0, tokens: r?.tokens ?? 0 };
    });
    const totals = days.reduce(
      (t, d) => ({ runs: t.runs + d.runs, failed_runs: t.failed_runs + d.failed_runs, credits_mc: t.credits_mc + d.credits_mc, tokens: t.tokens + d.tokens }),
      { runs: 0, failed_runs: 0, credits_mc: 0, tokens: 0 },
    );
    res.json({ days, totals });
  });
  return router;
}
