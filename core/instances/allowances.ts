// Monthly plan allowances: every active instance whose plan includes monthly
// credits gets them once per calendar month (UTC), from the promo account to
// its organization's wallet. The transfer id names the instance and the month,
// so activation (the first month) and the hourly housekeeping sweep (every
// later month, and any month a sweep missed) can never grant one twice.
// Unused credits stay in the wallet.
import type { Db } from '../db';
import type { Ledger } from '../ledger';

export const allowanceGrantId = (instanceId: string, period: string) => `allowance:${instanceId}:${period}`;
/** The allowance month of a moment: `YYYY-MM` in UTC. */
export const allowancePeriod = (at: Date) => at.toISOString().slice(0, 7);

export interface AllowanceDue {
  instanceId: string;
  orgId: string;
  orderId: string | null;
  planCode: string;
  amountMc: number;
}

/** Grants the allowances side by side (the ledger's batcher commits them together), each wallet looked up once. */
export async function grantAllowances(ledger: Ledger, dues: AllowanceDue[], period: string): Promise<void> {
  if (dues.length === 0) return;
  const promo = await ledger.ensureSystemAccount('promo');
  const wallets = new Map<string, Promise<string>>();
  const walletOf = (orgId: string) => {
    if (!wallets.has(orgId)) wallets.set(orgId, ledger.ensureWallet(orgId).then((w) => w.id));
    return wallets.get(orgId)!;
  };
  await Promise.all(dues.map(async (due) => ledger.transfer({
    id: allowanceGrantId(due.instanceId, period), debitAccountId: promo.id, creditAccountId: await walletOf(due.orgId), amount: due.amountMc,
    reason: 'monthly_allowance', orderId: due.orderId ?? undefined, metadata: { instance_id: due.instanceId, plan: due.planCode, period },
  })));
}

/** Active instances with monthly credits and no grant for `period` yet, in id order after `afterId`. */
export async function allowancesDue(db: Db, period: string, opts: { afterId?: string | null; limit: number }): Promise<AllowanceDue[]> {
  const rows = await db('instances as i')
    .join('plans as p', 'p.id', 'i.plan_id')
    .leftJoin('transfers as t', 't.id', db.raw("'allowance:' || i.id || ':' || ?", [period]))
    .where('i.status', 'active')
    .where('p.monthly_credits_mc', '>', 0)
    .whereNull('t.id')
    .modify((q) => {
      if (opts.afterId) q.where('i.id', '>', opts.afterId);
    })
    .orderBy('i.id')
    .limit(opts.limit)
    .select('i.id', 'i.org_id', 'i.order_id', 'p.code', 'p.monthly_credits_mc');
  return rows.map((r: { id: string; org_id: string; order_id: string | null; code: string; monthly_credits_mc: string | number }) => ({ instanceId: r.id, orgId: r.org_id, orderId: r.order_id, planCode: r.code, amountMc: Number(r.monthly_credits_mc) }));
}
