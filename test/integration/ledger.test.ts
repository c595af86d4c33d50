// The ledger against real PostgreSQL: balances, holds, overdraft under
// concurrency, two batchers (as two processes), expiry, idempotency.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { randomUUID } from 'node:crypto';
import { AppError, InsufficientCreditsError } from '../../core/errors';
import { createLedger, type Ledger } from '../../core/ledger';
import { pgArray } from '../../core/ledger/pg-arrays';
import type { Knex } from 'knex';
import type { PoolClient } from 'pg';
import type { Db } from '../../core/db';
import { freshDatabase } from '../support/stack';

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

/** ledger_write as the batcher calls it, for tests that play a batcher (or another process) by hand. */
const LEDGER_WRITE = `select ledger_write(?::text[], ?::uuid[], ?::uuid[], ?::bigint[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::text[],
  ?::text[], ?::jsonb[], ?::uuid[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::timestamptz[], ?::timestamptz)`;
interface Move { id: string; dp?: number; cp?: number; dpe?: number; cpe?: number; need?: number }
interface Written { id: string; debit: string; credit: string; amount: number; kind: string; pendingId?: string; timeoutMs?: number }
function ledgerWriteArgs(transfers: Written | Written[], moves: Move[]): Knex.RawBinding[] {
  const ts = Array.isArray(transfers) ? transfers : [transfers];
  const sorted = [...moves].sort((a, b) => (a.id < b.id ? -1 : 1));
  const column = (f: (m: Move) => number | null) => sorted.map(f);
  const values = [
    ts.map((t) => t.id), ts.map((t) => t.debit), ts.map((t) => t.credit), ts.map((t) => t.amount), ts.map((t) => t.kind),
    ts.map((t) => t.pendingId ?? null), ts.map((t) => t.timeoutMs ?? null), ts.map(() => 'adjustment'), ts.map(() => null), ts.map(() => null),
    ts.map(() => '{}'),
    sorted.map((m) => m.id), column((m) => m.dp ?? 0), column((m) => m.cp ?? 0), column((m) => m.dpe ?? 0), column((m) => m.cpe ?? 0),
    column((m) => m.need ?? null), [], null,
  ];
  // (pg turns arrays with nulls into PostgreSQL arrays; knex's binding types only know arrays of one type.)
  return values as unknown as Knex.RawBinding[];
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

describe('batches from memory (one round trip) and what proves them', () => {
  // Two instances, as two processes: each remembers what it last saw, and the other changes it meanwhile.
  const stats = (l: Ledger) => (l as unknown as { stats: { batches: number; exact: number; refused: number } }).stats;
  /** A new instance and a new wallet it has learnt (a first op on an account goes the exact way): a hold of 1 on it. */
  const instanceKnowingAWallet = async () => {
    const a = createLedger(db);
    const wallet = await newWallet(1_000);
    await holdVia(a, wallet, 1);
    return { a, wallet };
  };

  it('a wallet spent elsewhere: the write from stale memory is refused and the exact way answers 402', async () => {
    const a = createLedger(db);
    const b = createLedger(db);
    const wallet = await newWallet(1_000);
    // Both learn the wallet (a first op on an account always goes the exact way), then A spends from memory.
    await holdVia(a, wallet, 100);
    await holdVia(b, wallet, 100);
    const before = { ...stats(a) };
    await holdVia(a, wallet, 100);
    expect(stats(a).exact - before.exact).toBe(0);

    // B takes all that is left; A still remembers 800 available and would grant 500.
    await holdVia(b, wallet, 700);
    const mid = { ...stats(a) };
    const refused = await failure(holdVia(a, wallet, 500));
    expect(refused).toBeInstanceOf(InsufficientCreditsError);
    expect(stats(a).refused - mid.refused).toBe(1);
    expect(await ledger.balance(wallet)).toMatchObject({ available: 0, debitsPending: 1_000 });
    expect((await ledger.checkInvariants()).violations).toEqual([]);
  });

  it('a hold released elsewhere: settling it from memory answers conflict, not a settlement', async () => {
    const a = createLedger(db);
    const b = createLedger(db);
    const wallet = await newWallet(1_000);
    await holdVia(b, wallet, 10);
    const h = await holdVia(a, wallet, 300);
    await b.release({ id: `${h.id}:release`, pendingId: h.id });
    // A remembers the hold as open; even an amount larger than the hold must answer with what happened to it.
    const late = await failure(a.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 200 }));
    expect(late.type).toBe('conflict');
    expect(late.extensions).toMatchObject({ resolved_by: `${h.id}:release`, resolution: 'void_pending' });
    const larger = await failure(a.settle({ id: `${h.id}:settle-2`, pendingId: h.id, amount: 5_000 }));
    expect(larger.type).toBe('conflict');
    expect(await ledger.balance(wallet)).toMatchObject({ available: 990, debitsPosted: 0 });
  });

  it('an id taken elsewhere is replayed (same operation) or refused (another), never written twice', async () => {
    const a = createLedger(db);
    const b = createLedger(db);
    const wallet = await newWallet(1_000);
    await holdVia(a, wallet, 1);
    const id = randomUUID();
    const first = await holdVia(b, wallet, 250, id);
    const replay = await holdVia(a, wallet, 250, id);
    expect(replay).toEqual(first);
    expect((await failure(holdVia(a, wallet, 251, id))).type).toBe('conflict');
    expect(await db('transfers').where({ id }).count<{ count: number }[]>('* as count')).toEqual([{ count: 1 }]);
    expect(await ledger.balance(wallet)).toMatchObject({ available: 749, debitsPending: 251 });
  });

  it('a hold that timed out by the database clock is not settled, whatever this process\'s clock says', async () => {
    const { a, wallet } = await instanceKnowingAWallet();
    const h = await holdVia(a, wallet, 100, undefined, 500);
    await new Promise((r) => setTimeout(r, 700));
    // This machine's clock an hour behind the database's: memory alone would still call the hold open.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 3_600_000 });
    try {
      const before = { ...stats(a) };
      const late = await failure(a.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 50 }));
      expect(late.type).toBe('conflict');
      expect(late.extensions).toMatchObject({ expired: true });
      expect(stats(a).refused - before.refused).toBe(1);
    } finally {
      vi.useRealTimers();
    }
    expect(await ledger.balance(wallet)).toMatchObject({ debitsPosted: 0, debitsPending: 101 });
    // Released, so the expiry tests below meet only their own holds.
    await a.release({ id: `${h.id}:release`, pendingId: h.id });
  });

  it('memory is bounded: what it has dropped is read again the exact way, with the same answers', async () => {
    const small = createLedger(db, { remember: 8 });
    const wallets = await Promise.all(Array.from({ length: 6 }, () => newWallet(1_000)));
    const holds = [];
    for (const w of wallets) holds.push(await holdVia(small, w, 100));
    const before = { ...stats(small) };
    // The first holds and wallets have left memory by now: settling them must read them.
    for (const h of holds) await small.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 30 });
    expect(stats(small).exact - before.exact).toBeGreaterThan(0);
    for (const w of wallets) expect(await ledger.balance(w)).toMatchObject({ available: 970, debitsPending: 0, debitsPosted: 30 });
    // With no memory at all, every batch is exact, and the answers do not change.
    const none = createLedger(db, { remember: 0 });
    const h = await holdVia(none, wallets[0]!, 100);
    await none.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 10 });
    expect(stats(none)).toMatchObject({ batches: 2, exact: 2 });
    expect(await ledger.balance(wallets[0]!)).toMatchObject({ available: 960 });
  });

  it('ids, references and metadata of any text are stored as given', async () => {
    const { a, wallet } = await instanceKnowingAWallet();
    const odd = ['NULL', 'a"b\\c', '{x,y}', ' spaced ', 'ünï\u00e7ødé 💳', 'null'];
    for (const [i, text] of odd.entries()) {
      const h = await a.hold({
        id: `${text}-${wallet}`, debitAccountId: wallet, creditAccountId: revenue, amount: 10, reason: 'run', timeoutMs: 600_000,
        runId: text, orderId: `${text}!`, metadata: { note: text, n: i, nested: { q: '"\\' } },
      });
      const stored = await ledger.getTransfer(`${text}-${wallet}`);
      expect(stored).toEqual(h);
      expect(stored).toMatchObject({ runId: text, orderId: `${text}!`, metadata: { note: text, n: i, nested: { q: '"\\' } } });
      const s = await a.settle({ id: `${text}:settle:${wallet}`, pendingId: h.id, amount: 5 });
      expect(await ledger.getTransfer(s.id)).toEqual(s);
    }
    expect(await ledger.balance(wallet)).toMatchObject({ debitsPosted: 30, debitsPending: 1 });
  });

  it('the batcher\'s binary arrays arrive in PostgreSQL as they were sent', async () => {
    const client = (await db.client.acquireConnection()) as PoolClient;
    try {
      const at = [new Date('2026-12-01T12:34:56.789Z'), new Date('1999-12-31T23:59:59.999Z')];
      const ids = [randomUUID(), randomUUID().toUpperCase()];
      const { rows: [r] } = await client.query(
        `select $1::text[] as texts, $2::uuid[]::text[] as uuids, $3::bigint[]::text[] as ints, $4::jsonb[]::text[] as docs,
                $5::timestamptz[] as times, cardinality($6::text[]) as empty`,
        [
          pgArray.text(['plain', null, 'a"b\\c,{d}', '', 'ünï 💳']), pgArray.uuid(ids),
          pgArray.int8([0, -1, 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 32, -(2 ** 32) - 5, null]),
          pgArray.jsonb(['{"note":"ü\\"x"}', '{}']), pgArray.timestamptz(at), pgArray.text([]),
        ],
      );
      expect(r.texts).toEqual(['plain', null, 'a"b\\c,{d}', '', 'ünï 💳']);
      expect(r.uuids).toEqual(ids.map((id) => id.toLowerCase()));
      expect(r.ints).toEqual(['0', '-1', '1', '9007199254740991', '-9007199254740991', '4294967296', '-4294967301', null]);
      expect(r.docs).toEqual(['{"note": "ü\\"x"}', '{}']);
      expect(r.times).toEqual(at);
      expect(r.empty).toBe(0);
      expect(() => pgArray.uuid(['not-a-uuid'])).toThrow(TypeError);
      expect(() => pgArray.int8([2 ** 53])).toThrow(RangeError);
    } finally {
      await db.client.releaseConnection(client);
    }
  });

  it('replays of a settled pair come from memory with the stored times', async () => {
    const { a, wallet } = await instanceKnowingAWallet();
    const h = await holdVia(a, wallet, 100, undefined, 90_000);
    const s = await a.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 40 });
    const stored = await ledger.getTransfer(h.id);
    expect(h.timeoutAt).toEqual(stored!.timeoutAt);
    expect(h.createdAt).toEqual(stored!.createdAt);
    expect(stored!.timeoutAt!.getTime() - stored!.createdAt.getTime()).toBe(90_000);
    expect(await a.settle({ id: `${h.id}:settle`, pendingId: h.id, amount: 40 })).toEqual(s);
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

  // ledger_write called directly, as a faulty batcher would: one posted transfer of 5 from promo to the wallet,
  // with one part made wrong. It must refuse and write nothing.
  async function writeBadly(change: { moved?: 'debit only'; kind?: 'post_pending' | 'pending'; pendingId?: string; timeoutMs?: number }): Promise<string | undefined> {
    const wallet = await newWallet(1_000);
    const id = randomUUID();
    const moves = [{ id: promo, dp: 5 }, { id: wallet, cp: 5 }].filter((m) => change.moved !== 'debit only' || m.id === promo);
    const code = await sqlState(db.raw(LEDGER_WRITE, ledgerWriteArgs(
      { id, debit: promo, credit: wallet, amount: 5, kind: change.kind ?? 'posted', pendingId: change.pendingId, timeoutMs: change.timeoutMs }, moves,
    )));
    expect(await db('transfers').where({ id }).first()).toBeUndefined();
    expect((await ledger.balance(wallet)).available).toBe(1_000);
    return code;
  }

  it('a transfer naming an account the batch does not move is refused', async () => {
    expect(await writeBadly({ moved: 'debit only' })).toBe('CL003');
  });

  it('a settlement of something that is not a hold between its accounts is refused', async () => {
    const otherWallet = await newWallet(1_000);
    const elsewhere = await hold(otherWallet, 10);
    expect(await writeBadly({ kind: 'post_pending', pendingId: 'no-such-hold' })).toBe('CL003');
    expect(await writeBadly({ kind: 'post_pending', pendingId: elsewhere.id })).toBe('CL003');
    expect(await writeBadly({ kind: 'post_pending', pendingId: `grant-${otherWallet}` })).toBe('CL003');
  });

  it('a hold settled in the batch that writes it: between its own accounts it is written, between others refused', async () => {
    const wallet = await newWallet(1_000);
    const [holdId, otherHold] = [randomUUID(), randomUUID()];
    const both = (debit: string, credit: string, id: string) => [
      { id, debit: wallet, credit: revenue, amount: 100, kind: 'pending', timeoutMs: 60_000 },
      { id: `${id}:settle`, debit, credit, amount: 40, kind: 'post_pending', pendingId: id },
    ];
    const moves = [{ id: wallet, dp: 40, need: 100 }, { id: revenue, cp: 40 }, { id: promo }];
    expect(await sqlState(db.raw(LEDGER_WRITE, ledgerWriteArgs(both(wallet, promo, otherHold), moves)))).toBe('CL003');
    expect(await db('transfers').where({ id: otherHold }).first()).toBeUndefined();
    await db.raw(LEDGER_WRITE, ledgerWriteArgs(both(wallet, revenue, holdId), moves.slice(0, 2)));
    expect(await ledger.getTransfer(`${holdId}:settle`)).toMatchObject({ kind: 'post_pending', pendingId: holdId, amount: 40 });
    expect(await ledger.balance(wallet)).toMatchObject({ available: 960, debitsPosted: 40, debitsPending: 0 });
  });

  it('the exact way reads a batch of holds without reading every hold ever written', async () => {
    const wallet = await newWallet(1_000);
    await hold(wallet, 10);
    // As the exact way reads a first batch on an account: its id, no hold to resolve, no expiry.
    // Scans of the holds' index so far (the backend's count not yet reported, which may hold earlier
    // transactions' too), before and after, in one transaction.
    const scans = await db.transaction(async (trx) => {
      const count = async () => Number((await trx.raw(`select pg_stat_get_xact_numscans('transfers_hold_timeout_idx'::regclass) as n`)).rows[0].n);
      const before = await count();
      await trx.raw(`select ledger_load_locked(?::uuid[], ?::text[], '{}'::text[], null, 500)`, [[wallet], [randomUUID()]]);
      return (await count()) - before;
    });
    expect(scans).toBe(0);
  });

  it('a hold that times out the moment it is written is refused (the expiry sweep relies on at least 1 ms)', async () => {
    expect(await writeBadly({ kind: 'pending', timeoutMs: 0 })).toBe('CL003');
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

  /** Another process, between writing a 10 mc hold that times out in 1 ms and committing it (the caller commits). */
  async function holdInFlight(wallet: string, id: string): Promise<PoolClient> {
    const writer = (await db.client.acquireConnection()) as PoolClient;
    await writer.query('begin');
    const { sql, bindings } = db.raw(LEDGER_WRITE, ledgerWriteArgs(
      { id, debit: wallet, credit: revenue, amount: 10, kind: 'pending', timeoutMs: 1 },
      [{ id: wallet, dpe: 10, need: 10 }, { id: revenue, cpe: 10 }],
    )).toSQL().toNative();
    await writer.query(sql, bindings as unknown[]);
    return writer;
  }

  it('a hold still being written when a sweep starts is swept once it commits, never skipped', async () => {
    const wallet = await newWallet(1_000);
    const id = randomUUID();
    const writer = await holdInFlight(wallet, id);
    try {
      let swept: number | undefined;
      const sweep = ledger.expire(new Date(Date.now() + 60_000)).then((n) => (swept = n));
      await new Promise((r) => setTimeout(r, 300));
      expect(swept).toBeUndefined(); // the sweep waits for the write in flight
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
