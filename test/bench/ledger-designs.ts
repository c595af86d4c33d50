// The two designs the ledger benchmark compares, one pair (a run's hold, then
// its settlement) at a time: the ledger's, and the naive design it replaces
// (each operation its own transaction, both accounts locked, read, written).
import type { Db } from '../../core/db';
import type { Ledger } from '../../core/ledger';

/** What a run holds, and what it then costs, in millicredits. */
export const HOLD = 1_000;
export const COST = 700;

export type Pair = (wallet: string, id: string) => Promise<void>;

export const ledgerPair = (ledger: Ledger, revenue: string): Pair => async (wallet, id) => {
  // As a run does: the hold carries the run's id, and its settlement inherits it.
  await ledger.hold({ id, debitAccountId: wallet, creditAccountId: revenue, amount: HOLD, reason: 'run', runId: id, timeoutMs: 600_000 });
  await ledger.settle({ id: `${id}:settle`, pendingId: id, amount: COST });
};

export const naivePair = (db: Db, revenue: string): Pair => async (wallet, id) => {
  const lockBoth = (trx: Db) => trx('accounts').whereIn('id', [wallet, revenue]).orderBy('id').forUpdate()
    .select('id', 'credits_posted', 'debits_posted', 'debits_pending');
  await db.transaction(async (trx) => {
    const accounts = await lockBoth(trx);
    const w = accounts.find((a) => a.id === wallet)!;
    if (w.credits_posted - w.debits_posted - w.debits_pending < HOLD) throw new Error('insufficient credits');
    await trx('transfers').insert({ id, debit_account_id: wallet, credit_account_id: revenue, amount: HOLD, kind: 'pending', reason: 'run', run_id: id, timeout_at: trx.raw(`now() + interval '10 minutes'`) });
    await trx('accounts').where({ id: wallet }).increment('debits_pending', HOLD);
    await trx('accounts').where({ id: revenue }).increment('credits_pending', HOLD);
  });
  await db.transaction(async (trx) => {
    await lockBoth(trx);
    const hold = await trx('transfers').where({ id }).first('amount');
    if (!hold || (await trx('transfers').where({ pending_id: id }).first('id'))) throw new Error('hold not open');
    await trx('transfers').insert({ id: `${id}:settle`, debit_account_id: wallet, credit_account_id: revenue, amount: COST, kind: 'post_pending', pending_id: id, reason: 'run', run_id: id });
    await trx('accounts').where({ id: wallet }).update({ debits_pending: trx.raw('debits_pending - ?', [HOLD]), debits_posted: trx.raw('debits_posted + ?', [COST]) });
    await trx('accounts').where({ id: revenue }).update({ credits_pending: trx.raw('credits_pending - ?', [HOLD]), credits_posted: trx.raw('credits_posted + ?', [COST]) });
  });
};
