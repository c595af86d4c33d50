// The ledger against real PostgreSQL: balances, holds, overdraft under
// concurrency, two batchers (as two processes), expiry, idempotency.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomUUID } from 'node:crypto';
import { AppError, InsufficientCreditsError } from '../../core/errors';
import { createLedger, type Ledger } from '../../core/ledger';
import { LEDGER_LOCK } from '../../core/ledger/pg-ledger';
import type { PoolClient } from 'pg';
import type { Db } from '../../core/db';
import { freshDatabase } from '../support/stack';
import { until } from '../support/until';

let db: Db;
let drop: () => Promise<void>;
let ledger: Ledger;
let promo: string;
let revenue: string;

async function newWallet(credits = 0): Promise<string> {
  const [org] = await db('organizations').insert({ name: 'Test org' }).returning<{ id: string }[]>('id');
  const wallet = await ledger.ensureWallet(org!.id);
  if (credits > 0) {
    await ledger.transfer({ id: `grant-${wallet.id}`, debitAccountId: promo, creditAccountId: wallet.id, amount: credits, reason: 'starter_grant' });
  }
  return wallet.id;
}

/** A run's hold on the wallet, through the given ledger instance (another instance stands for another process). */
const holdVia = (via: Ledger, wallet: string, amount: number, id = randomUUID(), timeoutMs = 600_000) =>
  via.hold({ id, debitAccountId: wallet, creditAccountId: revenue, amount, reason: 'run', timeoutMs });
const hold = (wallet: string, amount: number, id = randomUUID(), timeoutMs = 600_000) => holdVia(ledger, wallet, amount, id, timeoutMs);

async function failure(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected the operation to fail');
}

beforeAll(async () => {
  ({ db, drop } = await freshDatabase());
  ledger = createLedger(db);
  promo = (await ledger.ensureSystemAccount('promo')).id;
  revenue = (await ledger.ensureSystemAccount('revenue')).id;
});

afterEach(async () => {
  expect((await ledger.checkInvariants()).violations).toEqual([]);
});

afterAll(async () => {
  await drop?.();
});

describe('accounts', () => {
  it('ensureWallet and ensureSystemAccount are idempotent, also when called concurrently', async () => {
    const [org] = await db('organizations').insert({ name: 'Twice' }).returning<{ id: string }[]>('id');
    const wallets = await Promise.all(Array.from({ length: 10 }, () => ledger.ensureWallet(org!.id)));
    expect(new Set(wallets.map((w) => w.id)).size).toBe(1);
    expect(wallets[0]).toMatchObject({ kind: 'wallet', orgId: org!.id, debitsMustNotExceedCredits: true });
    expect((await ledger.ensureSystemAccount('promo')).id).toBe(promo);
    const demo = await ledger.ensureDemoWallet('visitor-1');
    expect(demo).toMatchObject({ kind: 'demo_wallet', debitsMustNotExceedCredits: true });
    expect((await ledger.ensureDemoWallet('visitor-1')).id).toBe(demo.id);
  });

  it('first calls racing for a new wallet all get it (the one-wallet-per-org index races too)', async () => {
    const orgs = await db('organizations').insert(Array.from({ length: 30 }, (_, i) => ({ name: `Race ${i}` }))).returning<{ id: string }[]>('id');
    // Each org's wallet asked for by 8 connections at once, as concurrent first requests of one buyer do.
    const many = await Promise.all(orgs.map((o) => Promise.all(Array.from({ length: 8 }, () => createLedger(db).ensureWallet(o.id)))));
    for (const [i, wallets] of many.entries()) {
      expect(new Set(wallets.map((w) => w.id)).size).toBe(1);
      expect(wallets[0]).toMatchObject({ kind: 'wallet', orgId: orgs[i]!.id });
    }
  });
});

describe('hold, settle, release', () => {
  it('moves credits and keeps the statement summing to the available balance', async () => {
    const wallet = await newWallet(10_000);
    expect(await ledger.balance(wallet)).toEqual({ creditsPosted: 10_000, debitsPosted: 0, creditsPending: 0, debitsPending: 0, available: 10_000 });

    const h = await hold(wallet, 3_000);
    expect(h).toMatchObject({ kind: 'pending', amount: 3_000, debitAccountId: wallet, creditAccountId: revenue });
    expect((await ledger.balance(wallet)).available).toBe(7_000);

    const s = await ledger.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 1_200 });
    expect(s).toMatchObject({ kind: 'post_pending', amount: 1_200, pendingId: h.id, runId: null });
    expect(await ledger.balance(wallet)).toEqual({ creditsPosted: 10_000, debitsPosted: 1_200, creditsPending: 0, debitsPending: 0, available: 8_800 });

    const h2 = await hold(wallet, 500);
    await ledger.release({ id: `${h2.id}:release`, pendingId: h2.id });
    expect((await ledger.balance(wallet)).available).toBe(8_800);
    await ledger.transfer({ id: randomUUID(), debitAccountId: wallet, creditAccountId: revenue, amount: 800, reason: 'adjustment', orderId: 'o-1' });

    const first = await ledger.statement(wallet, { limit: 3 });
    expect(first.entries.map((e) => e.kind)).toEqual(['posted', 'void_pending', 'pending']);
    expect(first.entries[0]).toMatchObject({ amount: -800, side: 'debit', orderId: 'o-1', reason: 'adjustment', counterpartyAccountId: revenue });
    expect(first.entries[1]).toMatchObject({ amount: 500, pendingId: h2.id });
    const second = await ledger.statement(wallet, { limit: 3, cursor: first.nextCursor });
    expect(second.entries.map((e) => e.kind)).toEqual(['post_pending', 'pending', 'posted']);
    expect(second.entries[0]).toMatchObject({ amount: 1_800, transferAmount: 1_200 });
    expect(second.nextCursor).not.toBeNull();
    expect((await ledger.statement(wallet, { limit: 3, cursor: second.nextCursor })).entries).toEqual([]);
    const total = [...first.entries, ...second.entries].reduce((sum, e) => sum + e.amount, 0);
    expect(total).toBe(8_000);
    expect((await ledger.balance(wallet)).available).toBe(8_000);
  });

  it('settles 0 as a full release and refuses to settle more than the hold', async () => {
    const wallet = await newWallet(1_000);
    const h = await hold(wallet, 400);
    expect((await failure(ledger.settle({ id: `${h.id}:s`, pendingId: h.id, amount: 401 }))).type).toBe('validation');
    await ledger.settle({ id: `${h.id}:s`, pendingId: h.id, amount: 0 });
    expect((await ledger.balance(wallet)).available).toBe(1_000);
  });

  it('system counterparties may go negative; wallets may not', async () => {
    const wallet = await newWallet(500);
    expect((await ledger.balance(promo)).available).toBeLessThan(0);
    const err = await failure(ledger.transfer({ id: randomUUID(), debitAccountId: wallet, creditAccountId: revenue, amount: 501, reason: 'run' }));
    expect(err).toBeInstanceOf(InsufficientCreditsError);
    expect(err.status).toBe(402);
    expect(err.extensions).toMatchObject({ available_mc: 500, required_mc: 501 });
  });

  it('rejects unknown accounts and holds', async () => {
    const wallet = await newWallet(500);
    expect((await failure(hold(randomUUID(), 1))).type).toBe('not-found');
    expect((await failure(ledger.transfer({ id: randomUUID(), debitAccountId: wallet, creditAccountId: 'nope', amount: 1, reason: 'run' }))).type).toBe('not-found');
    expect((await failure(ledger.settle({ id: randomUUID(), pendingId: 'no-such-hold', amount: 1 }))).type).toBe('not-found');
    expect((await failure(ledger.transfer({ id: randomUUID(), debitAccountId: wallet, creditAccountId: wallet, amount: 1, reason: 'run' }))).type).toBe('validation');
    expect((await failure(hold(wallet, 1.5))).type).toBe('validation');
  });
});

describe('concurrency', () => {
  it('300 concurrent holds on a wallet that affords 7: exactly 7 succeed', async () => {
    const wallet = await newWallet(7 * 1_000);
    const results = await Promise.allSettled(Array.from({ length: 300 }, () => hold(wallet, 1_000)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(ok).toHaveLength(7);
    expect(failed).toHaveLength(293);
    for (const e of failed) expect(e).toBeInstanceOf(InsufficientCreditsError);
    expect(await ledger.balance(wallet)).toMatchObject({ available: 0, debitsPending: 7_000 });
  });

  it('two ledger instances (two batchers, as two processes) never overdraw a wallet or resolve a hold twice', async () => {
    const other = createLedger(db);
    const wallet = await newWallet(50 * 100);
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? ledger : other).hold({ id: `two-${wallet}-${i}`, debitAccountId: wallet, creditAccountId: revenue, amount: 100, reason: 'run', timeoutMs: 600_000 })),
    );
    const holds = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(holds).toHaveLength(50);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(InsufficientCreditsError);

    // Each hold is settled by one instance and released by the other, with
    // different ids, at once: exactly one of the two wins.
    const races = await Promise.allSettled(holds.flatMap((h) => [
      ledger.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 60 }),
      other.release({ id: `${h.id}:release`, pendingId: h.id }),
    ]));
    for (let i = 0; i < holds.length; i++) {
      const pair = [races[2 * i]!, races[2 * i + 1]!];
      expect(pair.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const lost = pair.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect((lost.reason as AppError).type).toBe('conflict');
    }
    const settled = races.filter((r, i) => i % 2 === 0 && r.status === 'fulfilled').length;
    expect(await ledger.balance(wallet)).toMatchObject({ debitsPending: 0, debitsPosted: settled * 60, available: 5_000 - settled * 60 });
  });
});

describe('observer', () => {
  it('is told of each batch once its callers have their answers; one that throws changes no answer', async () => {
    const seen: (boolean[] | null)[] = [];
    const observed = createLedger(db, {
      observer: {
        batchCommitted(_ops, results) {
          seen.push(results && results.map((r) => r.ok));
          throw new Error('a faulty observer');
        },
      },
    });
    const wallet = await newWallet(1_000);
    const h = await holdVia(observed, wallet, 400);
    expect(await observed.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 300 })).toMatchObject({ kind: 'post_pending', amount: 300 });
    expect(await failure(holdVia(observed, wallet, 5_000))).toBeInstanceOf(InsufficientCreditsError);
    expect(seen).toEqual([[true], [true], [false]]);
    expect((await ledger.balance(wallet)).available).toBe(700);
  });
});

describe('two processes', () => {
  // Two instances, as two processes: each batch reads what the other committed.
  it('a wallet spent elsewhere answers 402, never an overdraft', async () => {
    const a = createLedger(db);
    const b = createLedger(db);
    const wallet = await newWallet(1_000);
    await holdVia(a, wallet, 100);
    await holdVia(b, wallet, 100);
    await holdVia(a, wallet, 100);
    // B takes all that is left; A's next hold must see it.
    await holdVia(b, wallet, 700);
    expect(await failure(holdVia(a, wallet, 500))).toBeInstanceOf(InsufficientCreditsError);
    expect(await ledger.balance(wallet)).toMatchObject({ available: 0, debitsPending: 1_000 });
  });

  it('a hold released elsewhere: settling it answers conflict with what happened to it, not a settlement', async () => {
    const a = createLedger(db);
    const b = createLedger(db);
    const wallet = await newWallet(1_000);
    const h = await holdVia(a, wallet, 300);
    await b.release({ id: `${h.id}:release`, pendingId: h.id });
    const late = await failure(a.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 200 }));
    expect(late.type).toBe('conflict');
    expect(late.extensions).toMatchObject({ resolved_by: `${h.id}:release`, resolution: 'void_pending' });
    // Even an amount larger than the hold answers with what happened to it.
    const larger = await failure(a.settle({ id: `${h.id}:settle-2`, pendingId: h.id, amount: 5_000 }));
    expect(larger.type).toBe('conflict');
    expect(await ledger.balance(wallet)).toMatchObject({ available: 1_000, debitsPosted: 0 });
  });

  it('an id taken elsewhere is replayed (same operation) or refused (another), never written twice', async () => {
    const a = createLedger(db);
    const b = createLedger(db);
    const wallet = await newWallet(1_000);
    const id = randomUUID();
    const first = await holdVia(b, wallet, 250, id);
    const replay = await holdVia(a, wallet, 250, id);
    expect(replay).toEqual(first);
    expect((await failure(holdVia(a, wallet, 251, id))).type).toBe('conflict');
    expect(await db('transfers').where({ id }).count<{ count: number }[]>('* as count')).toEqual([{ count: 1 }]);
    expect(await ledger.balance(wallet)).toMatchObject({ available: 750, debitsPending: 250 });
  });

  it('a hold that timed out by the database clock is not settled, whatever this process\'s clock says', async () => {
    const wallet = await newWallet(1_000);
    const h = await hold(wallet, 100, undefined, 500);
    await new Promise((r) => setTimeout(r, 700));
    // This machine's clock an hour behind the database's: by it, the hold would still be open.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000 });
    try {
      const late = await failure(ledger.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 50 }));
      expect(late.type).toBe('conflict');
      expect(late.extensions).toMatchObject({ expired: true });
    } finally {
      vi.useRealTimers();
    }
    expect(await ledger.balance(wallet)).toMatchObject({ debitsPosted: 0, debitsPending: 100 });
    // Released, so the expiry tests below meet only their own holds.
    await ledger.release({ id: `${h.id}:release`, pendingId: h.id });
  });

  it('ids, references and metadata of any text are stored as given', async () => {
    const wallet = await newWallet(1_000);
    const odd = ['NULL', 'a"b\\c', '{x,y}', ' spaced ', 'ünï\u00e7ødé 💳', 'null'];
    for (const [i, text] of odd.entries()) {
      const h = await ledger.hold({
        id: `${text}-${wallet}`, debitAccountId: wallet, creditAccountId: revenue, amount: 10, reason: 'run', timeoutMs: 600_000,
        runId: text, orderId: `${text}!`, metadata: { note: text, n: i, nested: { q: '"\\' } },
      });
      const stored = await ledger.getTransfer(`${text}-${wallet}`);
      expect(stored).toEqual(h);
      expect(stored).toMatchObject({ runId: text, orderId: `${text}!`, metadata: { note: text, n: i, nested: { q: '"\\' } } });
      const s = await ledger.settle({ id: `${text}:settle:${wallet}`, pendingId: h.id, amount: 5 });
      expect(await ledger.getTransfer(s.id)).toEqual(s);
    }
    expect(await ledger.balance(wallet)).toMatchObject({ debitsPosted: 30, debitsPending: 0 });
  });

  it('what an operation answers is what is stored, with the database\'s times; a replay answers the same', async () => {
    const wallet = await newWallet(1_000);
    const h = await hold(wallet, 100, undefined, 90_000);
    const s = await ledger.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 40 });
    const stored = await ledger.getTransfer(h.id);
    expect(stored).toEqual(h);
    expect(stored!.timeoutAt!.getTime() - stored!.createdAt.getTime()).toBe(90_000);
    expect(await createLedger(db).settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 40 })).toEqual(s);
    expect(await ledger.getTransfer(s.id)).toEqual(s);
  });
});

describe('the database guards the ledger whatever code writes to it', () => {
  /** The SQL error code a statement fails with. */
  async function sqlState(p: Promise<unknown>): Promise<string | undefined> {
    try {
      await p;
    } catch (error) {
      return (error as { code?: string }).code;
    }
    throw new Error('expected the statement to fail');
  }

  it('transfers are never updated, deleted or truncated; accounts never deleted', async () => {
    const wallet = await newWallet(1_000);
    const id = `grant-${wallet}`;
    expect(await sqlState(db('transfers').where({ id }).update({ amount: 1 }))).toBe('CL004');
    expect(await sqlState(db('transfers').where({ id }).delete())).toBe('CL004');
    expect(await sqlState(db.raw('truncate transfers cascade'))).toBe('CL004');
    expect(await sqlState(db('accounts').where({ id: wallet }).delete())).toBe('CL004');
    expect(await sqlState(db.raw('truncate accounts cascade'))).toBe('CL004');
    expect(await db('transfers').where({ id }).first('amount')).toEqual({ amount: 1_000 });
    expect((await ledger.balance(wallet)).available).toBe(1_000);
  });

  // Rows written past the ledger, as faulty code would: the database refuses each and keeps nothing.
  const transfer = (row: Record<string, unknown>) => db('transfers').insert({ id: randomUUID(), amount: 5, kind: 'posted', reason: 'adjustment', ...row });

  it('a transfer naming an account that does not exist is refused', async () => {
    const wallet = await newWallet(1_000);
    expect(await sqlState(transfer({ debit_account_id: randomUUID(), credit_account_id: wallet }))).toBe('23503');
  });

  it('a settlement of a hold that does not exist, or a second resolution of a hold, is refused', async () => {
    const wallet = await newWallet(1_000);
    const h = await hold(wallet, 10);
    const settle = (pendingId: string) => transfer({ debit_account_id: wallet, credit_account_id: revenue, kind: 'post_pending', pending_id: pendingId });
    expect(await sqlState(settle('no-such-hold'))).toBe('23503');
    await ledger.release({ id: `${h.id}:release`, pendingId: h.id });
    expect(await sqlState(settle(h.id))).toBe('23505');
    expect(await db('transfers').where({ pending_id: h.id }).pluck('id')).toEqual([`${h.id}:release`]);
  });

  it('a hold that times out the moment it is written is refused (the expiry sweep relies on at least 1 ms)', async () => {
    const wallet = await newWallet(1_000);
    const code = await sqlState(transfer({
      debit_account_id: wallet, credit_account_id: revenue, kind: 'pending', timeout_at: db.fn.now(), created_at: db.fn.now(),
    }));
    expect(code).toBe('23514');
  });

  it('a wallet cannot be overdrawn, counting its holds', async () => {
    const wallet = await newWallet(1_000);
    await hold(wallet, 600);
    expect(await sqlState(db('accounts').where({ id: wallet }).increment('debits_posted', 401))).toBe('23514');
    expect((await ledger.balance(wallet)).available).toBe(400);
  });
});

describe('idempotency', () => {
  it('replays return the first result; other parameters under the same id conflict', async () => {
    const wallet = await newWallet(2_000);
    const id = randomUUID();
    const first = await hold(wallet, 700, id);
    const replays = await Promise.all([hold(wallet, 700, id), hold(wallet, 700, id)]);
    for (const r of replays) expect(r).toEqual(first);
    expect((await ledger.balance(wallet)).debitsPending).toBe(700);
    const conflict = await failure(hold(wallet, 701, id));
    expect(conflict.type).toBe('conflict');
    expect(conflict.status).toBe(409);

    const settled = await ledger.settle({ id: `${id}:settle`, pendingId: id, amount: 300 });
    expect(await ledger.settle({ id: `${id}:settle`, pendingId: id, amount: 300 })).toEqual(settled);
    expect((await failure(ledger.settle({ id: `${id}:settle`, pendingId: id, amount: 200 }))).type).toBe('conflict');
    const again = await failure(ledger.settle({ id: `${id}:settle-again`, pendingId: id, amount: 300 }));
    expect(again.type).toBe('conflict');
    expect(again.extensions).toMatchObject({ resolved_by: `${id}:settle`, resolution: 'post_pending' });
    expect((await failure(ledger.release({ id: `${id}:release`, pendingId: id }))).type).toBe('conflict');
    // A hold replayed after it was settled still answers the hold, and moves nothing.
    expect(await hold(wallet, 700, id)).toEqual(first);
    expect((await ledger.balance(wallet)).available).toBe(1_700);
  });

  it('a failed operation can be retried under the same id once it can succeed', async () => {
    const wallet = await newWallet(100);
    const id = randomUUID();
    expect(await failure(hold(wallet, 200, id))).toBeInstanceOf(InsufficientCreditsError);
    await ledger.transfer({ id: randomUUID(), debitAccountId: promo, creditAccountId: wallet, amount: 100, reason: 'credit_pack' });
    expect(await hold(wallet, 200, id)).toMatchObject({ id, amount: 200 });
  });

  it('the same id in one batch: the first applies, the rest replay or conflict', async () => {
    const wallet = await newWallet(1_000);
    const id = randomUUID();
    const results = await Promise.allSettled([hold(wallet, 100, id), hold(wallet, 100, id), hold(wallet, 999, id)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((await ledger.balance(wallet)).debitsPending).toBe(100);
  });
});

describe('expiry', () => {
  it('voids holds past their timeout, once; an expired hold can no longer be settled', async () => {
    const wallet = await newWallet(1_000);
    const short = await hold(wallet, 300, randomUUID(), 50);
    const long = await hold(wallet, 200, randomUUID(), 3_600_000);
    await new Promise((r) => setTimeout(r, 120));
    expect((await failure(ledger.settle({ id: `${short.id}:s`, pendingId: short.id, amount: 100 }))).extensions).toMatchObject({ expired: true });
    expect(await ledger.expire()).toBe(1);
    expect(await ledger.expire()).toBe(0);
    expect((await ledger.getTransfer(`expire:${short.id}`))).toMatchObject({ kind: 'void_pending', reason: 'expired', amount: 300 });
    expect((await ledger.balance(wallet)).available).toBe(800);
    // A release after the sweep is told who resolved the hold.
    expect((await failure(ledger.release({ id: `${short.id}:r`, pendingId: short.id }))).extensions).toMatchObject({ resolution: 'void_pending', resolution_reason: 'expired' });
    // expire(now) takes the clock as a parameter, so the sweep is testable.
    // (Other tests' open holds expire by then too.)
    expect(await ledger.expire(new Date(Date.now() + 2 * 3_600_000))).toBeGreaterThanOrEqual(1);
    expect((await ledger.getTransfer(`expire:${long.id}`))?.amount).toBe(200);
    expect((await ledger.balance(wallet)).available).toBe(1_000);
  });

  /** Another process, between writing a 10 mc hold that times out in 1 ms and committing it (the caller commits), as a batch writes it. */
  async function holdInFlight(wallet: string, id: string): Promise<PoolClient> {
    const writer = (await db.client.acquireConnection()) as PoolClient;
    await writer.query(`begin; select pg_advisory_xact_lock_shared(${LEDGER_LOCK})`);
    await writer.query(
      `with clock as (select date_trunc('milliseconds', clock_timestamp()) as now)
       insert into transfers (id, debit_account_id, credit_account_id, amount, kind, reason, timeout_at, created_at)
       select $1, $2, $3, 10, 'pending', 'run', now + interval '1 millisecond', now from clock`,
      [id, wallet, revenue],
    );
    await writer.query('update accounts set debits_pending = debits_pending + 10 where id = $1', [wallet]);
    await writer.query('update accounts set credits_pending = credits_pending + 10 where id = $1', [revenue]);
    return writer;
  }

  it('a hold still being written when a sweep starts is swept once it commits, never skipped', async () => {
    const wallet = await newWallet(1_000);
    const id = randomUUID();
    const writer = await holdInFlight(wallet, id);
    try {
      let swept: number | undefined;
      const sweep = ledger.expire(new Date(Date.now() + 60_000)).then((n) => (swept = n));
      // The sweep's barrier is queued behind the write in flight (an advisory lock not granted), and so it has not swept.
      await until('the sweep waits on the write in flight', async () =>
        Number((await db.raw(
          "select count(*) as n from pg_locks where locktype = 'advisory' and not granted and database = (select oid from pg_database where datname = current_database())",
        )).rows[0].n) > 0, 10_000);
      expect(swept).toBeUndefined();
      await writer.query('commit');
      expect(await sweep).toBeGreaterThanOrEqual(1);
    } finally {
      await db.client.releaseConnection(writer);
    }
    expect(await ledger.getTransfer(`expire:${id}`)).toMatchObject({ kind: 'void_pending', reason: 'expired', amount: 10 });
    expect((await ledger.balance(wallet)).available).toBe(1_000);
  });

  it('a write stuck in flight stalls the ledger a second at most during a sweep, and its hold is swept later', async () => {
    const wallet = await newWallet(1_000);
    const other = await newWallet(1_000);
    const id = randomUUID();
    const before = new Date();
    const writer = await holdInFlight(wallet, id);
    try {
      const sweep = ledger.expire(new Date(Date.now() + 60_000));
      await new Promise((r) => setTimeout(r, 50));
      // Another process's hold (on other accounts: the stuck write holds its rows), queued behind the sweep's
      // barrier, goes through once the barrier gives up (a barrier that waited for the stuck write would hang here).
      const adjustments = (await ledger.ensureSystemAccount('adjustments')).id;
      await createLedger(db).hold({ id: randomUUID(), debitAccountId: other, creditAccountId: adjustments, amount: 5, reason: 'run', timeoutMs: 600_000 });
      await sweep;
      // The sweep left its mark before the stuck hold's timeout, which is after `before`.
      const [mark] = await db('ledger_expiry').select('swept_to');
      expect(mark.swept_to.getTime()).toBeLessThan(before.getTime());
      await writer.query('commit');
    } finally {
      await db.client.releaseConnection(writer);
    }
    // The stuck hold times out before the sweep's clock, yet the mark did not pass it: the next sweep voids it.
    expect(await ledger.expire(new Date(Date.now() + 60_000))).toBeGreaterThanOrEqual(1);
    expect(await ledger.getTransfer(`expire:${id}`)).toMatchObject({ kind: 'void_pending', amount: 10 });
  });

  it('sweeps more holds than one expiry batch', async () => {
    const small = createLedger(db, { expiryBatch: 7 });
    const wallet = await newWallet(100);
    await Promise.all(Array.from({ length: 20 }, () => holdVia(small, wallet, 5, undefined, 1_000)));
    expect(await small.expire(new Date(Date.now() + 60_000))).toBe(20);
    expect((await ledger.balance(wallet)).available).toBe(100);
  });
});
