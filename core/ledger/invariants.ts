// The ledger's invariants, checked from the tables themselves. Run after every
// test and every 15 minutes by housekeeping; any violation is a bug to page on.
import type { Db } from '../db';

export async function checkLedgerInvariants(db: Db): Promise<{ violations: string[] }> {
  const violations: string[] = [];

  // Double entry: every transfer debits one account and credits another.
  const { rows: [sums] } = await db.raw<{ rows: { net_posted: number | null; net_pending: number | null }[] }>(
    `select sum(credits_posted - debits_posted)::bigint as net_posted, sum(credits_pending - debits_pending)::bigint as net_pending from accounts`,
  );
  if ((sums?.net_posted ?? 0) !== 0) violations.push(`posted balances of all accounts sum to ${sums?.net_posted}, not 0`);
  if ((sums?.net_pending ?? 0) !== 0) violations.push(`pending balances of all accounts sum to ${sums?.net_pending}, not 0`);

  const { rows: overdrawn } = await db.raw<{ rows: { id: string; code: string; available: number }[] }>(
    `select id, code, credits_posted - debits_posted - debits_pending as available from accounts
     where debits_must_not_exceed_credits and debits_posted + debits_pending > credits_posted limit 20`,
  );
  for (const a of overdrawn) violations.push(`account ${a.code} (${a.id}) is overdrawn: available ${a.available}`);

  // Each account's cached balances equal what its transfers add up to.
  const { rows: drift } = await db.raw<{ rows: { id: string; code: string; expected: string; actual: string }[] }>(
    `with open_holds as (
       select p.* from transfers p
       where p.kind = 'pending' and not exists (select 1 from transfers r where r.pending_id = p.id)
     ), effects as (
       select debit_account_id as account_id, amount as dp, 0::bigint as cp, 0::bigint as dpe, 0::bigint as cpe
         from transfers where kind in ('posted', 'post_pending')
       union all
       select credit_account_id, 0, amount, 0, 0 from transfers where kind in ('posted', 'post_pending')
       union all
       select debit_account_id, 0, 0, amount, 0 from open_holds
       union all
       select credit_account_id, 0, 0, 0, amount from open_holds
     ), totals as (
       select account_id, sum(dp) as dp, sum(cp) as cp, sum(dpe) as dpe, sum(cpe) as cpe from effects group by account_id
     )
     select a.id, a.code,
            concat_ws('/', coalesce(t.dp, 0), coalesce(t.cp, 0), coalesce(t.dpe, 0), coalesce(t.cpe, 0)) as expected,
            concat_ws('/', a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending) as actual
     from accounts a left join totals t on t.account_id = a.id
     where (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
           is distinct from (coalesce(t.dp, 0), coalesce(t.cp, 0), coalesce(t.dpe, 0), coalesce(t.cpe, 0))
     limit 20`,
  );
  for (const d of drift) {
    violations.push(`account ${d.code} (${d.id}) balances ${d.actual} (debits/credits posted, debits/credits pending) differ from its transfers ${d.expected}`);
  }

  const { rows: twice } = await db.raw<{ rows: { pending_id: string; n: number }[] }>(
    `select pending_id, count(*)::int as n from transfers where pending_id is not null group by pending_id having count(*) > 1 limit 20`,
  );
  for (const t of twice) violations.push(`hold ${t.pending_id} was resolved ${t.n} times`);

  const { rows: bad } = await db.raw<{ rows: { id: string; problem: string }[] }>(
    `select r.id, case
              when p.id is null then 'resolves a missing transfer'
              when p.kind <> 'pending' then 'resolves a transfer that is not a hold'
              when r.debit_account_id <> p.debit_account_id or r.credit_account_id <> p.credit_account_id then 'has other accounts than its hold'
              when r.kind = 'post_pending' and r.amount > p.amount then 'settles more than its hold'
              else 'releases another amount than its hold' end as problem
     from transfers r left join transfers p on p.id = r.pending_id
     where r.pending_id is not null and (p.id is null or p.kind <> 'pending'
       or r.debit_account_id <> p.debit_account_id or r.credit_account_id <> p.credit_account_id
       or (r.kind = 'post_pending' and r.amount > p.amount) or (r.kind = 'void_pending' and r.amount <> p.amount))
     limit 20`,
  );
  for (const b of bad) violations.push(`transfer ${b.id} ${b.problem}`);

  // The expiry sweep has swept no further than it resolved: no open hold times out at or before swept_to.
  const { rows: [holds] } = await db.raw<{ rows: { unswept: number }[] }>(
    `select count(*)::int as unswept from transfers p, ledger_expiry e
     where p.kind = 'pending' and p.timeout_at <= e.swept_to
       and not exists (select 1 from transfers r where r.pending_id = p.id)`,
  );
  if (holds && holds.unswept > 0) violations.push(`${holds.unswept} open holds time out before the expiry sweep's mark`);

  return { violations };
}
