// The ledger on PostgreSQL, with group commit.
//
// A row lock and a commit per transfer caps a hot wallet at the disk's fsync
// rate (a few hundred per second). Instead every Ledger instance has one
// batcher: operations that arrive while batches are in flight wait in a
// queue, and the next batch applies all of them at once, in arrival order,
// each with its own success or failure (apply.ts).
//
// A batch goes one of two ways (migration 20261201_006 tells the why):
// - known: every account and hold it names is in this process's memory
//   (accounts as last seen, holds as written; holds never change). It is
//   applied from memory and written in one autocommitted call, ledger_write,
//   which checks what memory assumed: each wallet still has the balance the
//   batch needs at its lowest point, no settled hold has timed out, no id is
//   taken and no hold resolved meanwhile (unique keys). One round trip, and no
//   lock is held across one.
// - exact: in a transaction, lock every touched account in id order, read the
//   accounts and transfers, apply, ledger_write, commit. Taken by a batch that
//   names something memory lacks or expires holds, by one in which any op
//   failed from memory (a stale balance, a resolution made elsewhere or this
//   machine's clock may be wrong there: only the exact way refuses), and by a
//   known batch whose write failed its checks.
// Batches start once the event loop's turn is over, so the callers one commit
// wakes go together into the next batch.
// Several processes (API replicas, workers) each run a batcher; the database
// constraints (wallet check, one resolution per hold, unique ids) hold
// whatever happens.
import type { PoolClient } from 'pg';
import { notFound, validation } from '../errors';
import type { Db } from '../db';
import { applyBatch, available, type AccountState, type BatchOutcome, type BatchState, type LedgerOp, type OpResult } from './apply';
import { checkLedgerInvariants } from './invariants';
import { pgArray } from './pg-arrays';
import type {
  Account, AccountKind, Balance, HoldInput, Ledger, ReleaseInput, SettleInput, Statement, StatementEntry, SystemAccountKind,
  Transfer, TransferInput,
} from './types';
import { ACCOUNT_KINDS } from './types';

export interface LedgerOptions {
  /** Most ops one transaction applies; the rest wait for the next. */
  maxBatch?: number;
  /** Holds voided per expiry transaction. */
  expiryBatch?: number;
  /**
   * Batches one instance runs at once (2: while one commits, the next can be
   * applied; more only contend for the same rows on two cores).
   */
  maxInFlight?: number;
  /** Whole-batch retries on a transient database error (deadlock, a racing duplicate id). */
  maxRetries?: number;
  /** Accounts, and open holds, kept in memory for batches that need no read (0: every batch reads). */
  remember?: number;
}

interface Pending {
  op: LedgerOp;
  resolve: (value: Transfer | number) => void;
  reject: (error: Error) => void;
}

/**
 * A queue this long is shared between free batch slots: the two batches then alternate, one written while
 * the other is applied, instead of every caller moving in one lockstep batch.
 */
const SHARED_QUEUE = 32;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REASON = /^[a-z][a-z0-9_]{0,63}$/;
// A concurrent writer inserted one of our ids or resolved one of our holds (23505), a deadlock or serialization failure.
const RETRYABLE = new Set(['23505', '40P01', '40001']);
// A known batch's write found memory wrong: a wallet without what the batch needs (CL001, or the wallet check
// itself), a settled hold timed out (CL002), or one of the above.
const REFUSED = new Set([...RETRYABLE, 'CL001', 'CL002', '23514']);

export interface TransferRow {
  id: string;
  seq: number;
  kind: Transfer['kind'];
  debit_account_id: string;
  credit_account_id: string;
  amount: number;
  pending_id: string | null;
  timeout_at: Date | null;
  reason: string;
  run_id: string | null;
  order_id: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
}

export const toTransfer = (r: TransferRow): Transfer => ({
  id: r.id, kind: r.kind, debitAccountId: r.debit_account_id, creditAccountId: r.credit_account_id, amount: r.amount,
  pendingId: r.pending_id, timeoutAt: r.timeout_at, reason: r.reason, runId: r.run_id, orderId: r.order_id,
  metadata: r.metadata, createdAt: r.created_at,
});

interface AccountRow {
  id: string;
  code: string;
  org_id: string | null;
  kind: AccountKind;
  debits_must_not_exceed_credits: boolean;
  created_at: Date;
}

const toAccount = (r: AccountRow): Account => ({
  id: r.id, code: r.code, orgId: r.org_id, kind: r.kind, debitsMustNotExceedCredits: r.debits_must_not_exceed_credits, createdAt: r.created_at,
});

// Statement texts, named so PostgreSQL parses and plans them once per connection.
const SQL = {
  loadLocked: {
    name: 'ledger_load_locked',
    text: 'select ledger_load_locked($1::uuid[], $2::text[], $3::text[], $4::timestamptz, $5::int) as batch',
  },
  // One call writes the whole batch: transfers, the balance deltas and, for an expiry, how far it swept.
  write: {
    name: 'ledger_write',
    text: `select ledger_write($1::text[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::bigint[],
             $8::text[], $9::text[], $10::text[], $11::jsonb[],
             $12::uuid[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::timestamptz[], $19::timestamptz) as written`,
  },
} as const;

/** What the batcher did, for benchmarks and tests. */
export interface LedgerStats {
  batches: number;
  ops: number;
  /** Batches that went the exact (locked) way. */
  exact: number;
  /** Of those, batches whose known write failed its checks first. */
  refused: number;
}

/**
 * Bounded memory in two generations: when the newer fills, the older is dropped whole. (A Map used as a
 * queue, deleting its first entry on every insert, makes V8 walk over the deleted entries each time.)
 */
class Recent<V> {
  private newer = new Map<string, V>();
  private older = new Map<string, V>();

  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    return this.newer.get(key) ?? this.older.get(key);
  }

  delete(key: string): void {
    this.newer.delete(key);
    this.older.delete(key);
  }

  set(key: string, value: V): void {
    if (this.max <= 0) return;
    this.newer.set(key, value);
    if (this.newer.size >= this.max / 2) {
      this.older = this.newer;
      this.newer = new Map();
    }
  }
}

type Balances = Omit<AccountState, 'lowest'>;

export class PgLedger implements Ledger {
  private queue: Pending[] = [];
  private inFlight = 0;
  private startScheduled = false;
  private readonly maxInFlight: number;
  private readonly maxBatch: number;
  private readonly expiryBatch: number;
  private readonly maxRetries: number;
  readonly stats: LedgerStats = { batches: 0, ops: 0, exact: 0, refused: 0 };
  // What this process has seen committed: accounts with their balances then, and the holds it has seen open
  // (a hold is immutable; it leaves memory when this process resolves it). Nothing else: a replayed or taken
  // id, or a hold resolved elsewhere, fails the write's unique keys and goes the exact way, which answers it.
  // Kept this small, memory stays in the CPU's caches; remembering every transfer cost a seventh of the
  // batcher's time in lookups.
  private readonly accounts: Recent<Balances>;
  private readonly holds: Recent<Transfer>;

  constructor(private readonly db: Db, opts: LedgerOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.expiryBatch = opts.expiryBatch ?? 500;
    this.maxRetries = opts.maxRetries ?? 5;
    this.maxInFlight = opts.maxInFlight ?? 2;
    const remember = opts.remember ?? 50_000;
    this.accounts = new Recent(remember);
    this.holds = new Recent(remember);
  }

  async transfer(input: TransferInput): Promise<Transfer> {
    checkTransferInput(input);
    return this.submit({ type: 'transfer', input }) as Promise<Transfer>;
  }

  async hold(input: HoldInput): Promise<Transfer> {
    checkTransferInput(input);
    if (!Number.isSafeInteger(input.timeoutMs) || input.timeoutMs <= 0) throw validation('timeoutMs must be a positive integer');
    return this.submit({ type: 'hold', input }) as Promise<Transfer>;
  }

  async settle(input: SettleInput): Promise<Transfer> {
    checkId(input.id);
    checkId(input.pendingId, 'pendingId');
    if (!Number.isSafeInteger(input.amount) || input.amount < 0) throw validation('amount must be a non-negative integer of millicredits');
    if (input.reason !== undefined) checkReason(input.reason);
    return this.submit({ type: 'settle', input }) as Promise<Transfer>;
  }

  async release(input: ReleaseInput): Promise<Transfer> {
    checkId(input.id);
    checkId(input.pendingId, 'pendingId');
    if (input.reason !== undefined) checkReason(input.reason);
    return this.submit({ type: 'release', input }) as Promise<Transfer>;
  }

  async expire(now: Date = new Date()): Promise<number> {
    let total = 0;
    for (;;) {
      const voided = (await this.submit({ type: 'expire', now })) as number;
      total += voided;
      if (voided < this.expiryBatch) return total;
    }
  }

  async balance(accountId: string): Promise<Balance> {
    if (!UUID.test(accountId)) throw notFound(`Account ${accountId}`);
    const row = await this.db('accounts').where({ id: accountId }).first('debits_posted', 'credits_posted', 'debits_pending', 'credits_pending');
    if (!row) throw notFound(`Account ${accountId}`);
    return {
      creditsPosted: row.credits_posted, debitsPosted: row.debits_posted, creditsPending: row.credits_pending, debitsPending: row.debits_pending,
      available: row.credits_posted - row.debits_posted - row.debits_pending,
    };
  }

  async statement(accountId: string, opts: { cursor?: string | null; limit: number }): Promise<Statement> {
    if (!UUID.test(accountId)) throw notFound(`Account ${accountId}`);
    const limit = Math.min(Math.max(Math.trunc(opts.limit), 1), 500);
    const before = opts.cursor ? Number(opts.cursor) : Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(before) || before < 0) throw validation('cursor is not valid');
    // Two index range scans (debit side, credit side) merged newest first.
    const { rows } = await this.db.raw<{ rows: (TransferRow & { hold_amount: number | null })[] }>(
      `select t.*, p.amount as hold_amount from (
         (select * from transfers where debit_account_id = :id and seq < :before order by seq desc limit :limit)
         union all
         (select * from transfers where credit_account_id = :id and seq < :before order by seq desc limit :limit)
       ) t left join transfers p on p.id = t.pending_id
       order by t.seq desc limit :limit`,
      { id: accountId, before, limit },
    );
    const entries = rows.map((r): StatementEntry => {
      const side = r.debit_account_id === accountId ? 'debit' : 'credit';
      return {
        transferId: r.id, seq: r.seq, kind: r.kind, side, amount: availableEffect(r.kind, side, r.amount, r.hold_amount ?? 0),
        transferAmount: r.amount, counterpartyAccountId: side === 'debit' ? r.credit_account_id : r.debit_account_id,
        pendingId: r.pending_id, timeoutAt: r.timeout_at, reason: r.reason, runId: r.run_id, orderId: r.order_id,
        metadata: r.metadata, createdAt: r.created_at,
      };
    });
    const last = entries.at(-1);
    return { entries, nextCursor: entries.length === limit && last ? String(last.seq) : null };
  }

  async getTransfer(id: string): Promise<Transfer | null> {
    const row = await this.db<TransferRow>('transfers').where({ id }).first();
    return row ? toTransfer(row) : null;
  }

  async ensureWallet(orgId: string): Promise<Account> {
    if (!UUID.test(orgId)) throw validation('orgId must be a uuid');
    return this.ensureAccount(`wallet:${orgId}`, 'wallet', orgId, true);
  }

  async ensureDemoWallet(visitorId: string): Promise<Account> {
    checkId(visitorId, 'visitorId');
    return this.ensureAccount(`demo_wallet:${visitorId}`, 'demo_wallet', null, true);
  }

  async ensureSystemAccount(kind: SystemAccountKind): Promise<Account> {
    if (!ACCOUNT_KINDS.includes(kind) || kind === ('wallet' as string) || kind === ('demo_wallet' as string)) {
      throw validation(`${kind} is not a system account kind`);
    }
    return this.ensureAccount(kind, kind, null, false);
  }

  checkInvariants(): Promise<{ violations: string[] }> {
    return checkLedgerInvariants(this.db);
  }

  private async ensureAccount(code: string, kind: AccountKind, orgId: string | null, limited: boolean): Promise<Account> {
    // Insert-or-read: concurrent callers all get the same row. No conflict target, because a racing insert of
    // the same wallet may trip the one-wallet-per-org index before the code's.
    const inserted = await this.db('accounts')
      .insert({ code, kind, org_id: orgId, debits_must_not_exceed_credits: limited })
      .onConflict().ignore()
      .returning<AccountRow[]>(['id', 'code', 'org_id', 'kind', 'debits_must_not_exceed_credits', 'created_at']);
    const row = inserted[0] ?? (await this.db<AccountRow>('accounts').where({ code }).first());
    if (!row) throw new Error(`account ${code} vanished`);
    return toAccount(row);
  }

  // ── the batcher ────────────────────────────────────────────────────────────

  private submit(op: LedgerOp): Promise<Transfer | number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      // Callers woken by one commit submit their next ops in the same turn of the event loop: starting a
      // batch at the first of them would send it alone and queue the rest, so start once the turn is over.
      if (!this.startScheduled && this.inFlight < this.maxInFlight) {
        this.startScheduled = true;
        setImmediate(() => {
          this.startScheduled = false;
          this.startBatches();
        });
      }
    });
  }

  private startBatches(): void {
    const free = Math.max(this.maxInFlight - this.inFlight, 1);
    // (A shorter queue goes whole: halving it would only add a batch's fixed cost.)
    const share = this.queue.length >= SHARED_QUEUE ? Math.ceil(this.queue.length / free) : this.queue.length;
    const size = Math.min(this.maxBatch, share);
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) void this.runBatch(size);
  }

  // Takes its share of the queue into one batch; when it commits, whatever
  // queued meanwhile goes into the next.
  private async runBatch(size: number): Promise<void> {
    this.inFlight += 1;
    const batch = this.queue.splice(0, size);
    try {
      const results = await this.commitWithRetry(batch.map((p) => p.op));
      results.forEach((r, i) => (r.ok ? batch[i]!.resolve(r.value) : batch[i]!.reject(r.error)));
    } catch (error) {
      for (const p of batch) p.reject(error as Error);
    } finally {
      this.inFlight -= 1;
    }
    this.startBatches();
  }

  private async commitWithRetry(ops: LedgerOp[]): Promise<OpResult[]> {
    this.stats.batches += 1;
    this.stats.ops += ops.length;
    const known = this.knownState(ops);
    if (known) {
      try {
        const results = await this.commitKnown(ops, known);
        if (results) return results;
      } catch (error) {
        if (!REFUSED.has((error as { code?: string }).code ?? '')) throw error;
        this.stats.refused += 1;
      }
    }
    this.stats.exact += 1;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.commitExact(ops);
      } catch (error) {
        const code = (error as { code?: string }).code;
        // A concurrent process inserted one of our ids (or resolved one of our
        // holds) after we read: the retry reads it and answers replay or conflict.
        if (!code || !RETRYABLE.has(code) || attempt >= this.maxRetries) throw error;
      }
    }
  }

  /** The state a batch needs, from memory; null when memory lacks any of it. */
  private knownState(ops: LedgerOp[]): { state: BatchState; start: Map<string, AccountState> } | null {
    const accounts = new Map<string, AccountState>();
    // The remembered balances themselves: memory is only ever replaced, never changed in place.
    const start = new Map<string, AccountState>();
    const transfers = new Map<string, Transfer>();
    const account = (id: string) => {
      if (accounts.has(id)) return true;
      const a = this.accounts.get(id);
      if (a) {
        accounts.set(id, { ...a });
        start.set(id, a);
      }
      return a !== undefined;
    };
    for (const op of ops) {
      if (op.type === 'expire') return null;
      // A hold replayed while it is open.
      const seen = this.holds.get(op.input.id);
      if (seen) transfers.set(seen.id, seen);
      if (op.type === 'settle' || op.type === 'release') {
        const hold = this.holds.get(op.input.pendingId);
        if (!hold || !account(hold.debitAccountId) || !account(hold.creditAccountId)) return null;
        transfers.set(hold.id, hold);
      } else if (!account(op.input.debitAccountId) || !account(op.input.creditAccountId)) {
        return null;
      }
    }
    return { state: { now: new Date(), accounts, transfers, resolutions: new Map(), expiryCandidates: [] }, start };
  }

  /** The known way: one autocommitted write. Null when the batch must go the exact way. */
  private async commitKnown(ops: LedgerOp[], { state, start }: { state: BatchState; start: Map<string, AccountState> }): Promise<OpResult[] | null> {
    const outcome = applyBatch(ops, state);
    // Memory may lack what refuses an op rightly, or hold what refuses it wrongly (a balance since raised,
    // a resolution made elsewhere, this machine's clock), and the write can only prove successes: only
    // the exact way refuses.
    if (outcome.results.some((r) => !r.ok)) return null;
    const settled = outcome.inserts.flatMap((t) => (t.kind === 'post_pending' ? [state.transfers.get(t.pendingId!)!.timeoutAt!] : []));
    const client = (await this.db.client.acquireConnection()) as PoolClient;
    try {
      const written = await this.write(client, outcome, state, start, settled, null);
      this.remember(outcome, state, written, false);
      return outcome.results;
    } finally {
      await this.db.client.releaseConnection(client);
    }
  }

  /** The exact way: lock, read, apply, write, commit. */
  private async commitExact(ops: LedgerOp[]): Promise<OpResult[]> {
    const ids = new Set<string>();
    const pendingIds = new Set<string>();
    const accountIds = new Set<string>();
    let expiryNow: Date | null = null;
    for (const op of ops) {
      if (op.type === 'expire') {
        if (!expiryNow || op.now > expiryNow) expiryNow = op.now;
        continue;
      }
      ids.add(op.input.id);
      if (op.type === 'settle' || op.type === 'release') pendingIds.add(op.input.pendingId);
      else {
        accountIds.add(op.input.debitAccountId);
        accountIds.add(op.input.creditAccountId);
      }
    }

    const client = (await this.db.client.acquireConnection()) as PoolClient;
    let broken = false;
    try {
      await client.query('begin');
      const { rows: [loaded] } = await client.query<{ batch: LoadedBatch }>({
        ...SQL.loadLocked,
        values: [[...accountIds].filter((id) => UUID.test(id)), [...ids], [...pendingIds], expiryNow, this.expiryBatch],
      });
      const batch = loaded!.batch;
      const accounts = new Map<string, AccountState>();
      const start = new Map<string, AccountState>();
      for (const r of batch.accounts) {
        const a: AccountState = {
          id: r.id, limited: r.limited, debitsPosted: r.debits_posted, creditsPosted: r.credits_posted,
          debitsPending: r.debits_pending, creditsPending: r.credits_pending,
        };
        accounts.set(r.id, a);
        start.set(r.id, { ...a });
      }
      const allPending = new Set([...pendingIds, ...batch.candidates]);
      const transfers = new Map<string, Transfer>();
      const resolutions = new Map<string, Transfer>();
      for (const r of batch.transfers) {
        const t = fromJson(r);
        transfers.set(t.id, t);
        if (t.pendingId && allPending.has(t.pendingId)) resolutions.set(t.pendingId, t);
      }
      // Read from the database, so committed: memory may keep the holds still open (of those whose resolution
      // was read too; a hold read by its own id alone, as a replay, may have been resolved).
      for (const t of transfers.values()) {
        if (t.kind !== 'pending' || !allPending.has(t.id)) continue;
        if (resolutions.has(t.id)) this.holds.delete(t.id);
        else this.holds.set(t.id, t);
      }
      const expiryCandidates = batch.candidates.flatMap((id) => transfers.get(id) ?? []);
      const state: BatchState = { now: new Date(batch.now), accounts, transfers, resolutions, expiryCandidates };

      const outcome = applyBatch(ops, state);
      const written = await this.write(client, outcome, state, start, [], batch.swept_to);
      await client.query('commit');
      this.remember(outcome, state, written, true);
      return outcome.results;
    } catch (error) {
      try {
        await client.query('rollback');
      } catch {
        broken = true;
      }
      throw error;
    } finally {
      // A connection whose rollback failed is not given back to the pool.
      if (broken) (client as PoolClient & { __knex__disposed?: unknown }).__knex__disposed = true;
      await this.db.client.releaseConnection(client);
    }
  }

  /** ledger_write for an applied batch; the transfers it returns carry the database's time. */
  private async write(
    on: PoolClient, outcome: BatchOutcome, state: BatchState, start: Map<string, AccountState>, settledTimeouts: Date[],
    sweptTo: string | null,
  ): Promise<WrittenAccount[]> {
    // Every account a transfer names, even one whose balance ends where it began: ledger_write proves each exists by moving it.
    const moves = [...outcome.touched].map((id) => {
      const a = state.accounts.get(id)!;
      const s = start.get(id)!;
      return {
        id, dp: a.debitsPosted - s.debitsPosted, cp: a.creditsPosted - s.creditsPosted,
        dpe: a.debitsPending - s.debitsPending, cpe: a.creditsPending - s.creditsPending,
        need: a.limited ? Math.max(0, available(s) - (a.lowest ?? available(s))) : null,
      };
    });
    // ledger_write locks the accounts in this order; every writer's is the same (PostgreSQL orders uuids as these strings).
    moves.sort((a, b) => (a.id < b.id ? -1 : 1));
    const rows = outcome.inserts;
    // (moves come from the inserts' accounts: no inserts, no moves.)
    if (rows.length === 0 && sweptTo === null) return [];
    const timeoutMs = (t: Transfer) => (t.timeoutAt ? t.timeoutAt.getTime() - state.now.getTime() : null);
    const { rows: [result] } = await on.query<{ written: { now: string; accounts: string } }>({
      ...SQL.write,
      values: [
        pgArray.text(rows.map((t) => t.id)), pgArray.uuid(rows.map((t) => t.debitAccountId)),
        pgArray.uuid(rows.map((t) => t.creditAccountId)), pgArray.int8(rows.map((t) => t.amount)), pgArray.text(rows.map((t) => t.kind)),
        pgArray.text(rows.map((t) => t.pendingId)), pgArray.int8(rows.map(timeoutMs)), pgArray.text(rows.map((t) => t.reason)),
        pgArray.text(rows.map((t) => t.runId)), pgArray.text(rows.map((t) => t.orderId)),
        pgArray.jsonb(rows.map((t) => JSON.stringify(t.metadata))),
        pgArray.uuid(moves.map((m) => m.id)), pgArray.int8(moves.map((m) => m.dp)), pgArray.int8(moves.map((m) => m.cp)),
        pgArray.int8(moves.map((m) => m.dpe)), pgArray.int8(moves.map((m) => m.cpe)), pgArray.int8(moves.map((m) => m.need)),
        pgArray.timestamptz(settledTimeouts), sweptTo,
      ],
    });
    const now = new Date(result!.written.now);
    // The transfers were applied at this process's time (or the read's); the database's is the one stored.
    const shift = now.getTime() - state.now.getTime();
    if (shift !== 0) {
      for (const t of rows) {
        t.createdAt = now;
        if (t.timeoutAt) t.timeoutAt = new Date(t.timeoutAt.getTime() + shift);
      }
    }
    return parseAccounts(result!.written.accounts);
  }

  /**
   * What a committed batch leaves in memory: its holds (the ones it resolved leave), and its accounts as they
   * now stand (those it moved as the write returned them; from an exact batch, also those it only read).
   */
  private remember(outcome: BatchOutcome, state: BatchState, moved: WrittenAccount[], read: boolean): void {
    for (const t of outcome.inserts) {
      if (t.kind === 'pending') this.holds.set(t.id, t);
      else if (t.pendingId) this.holds.delete(t.pendingId);
    }
    const stored = new Map(moved.map((m) => [m.id, m]));
    for (const a of state.accounts.values()) {
      const m = stored.get(a.id);
      if (!m && !read) continue;
      const b = m ? { debitsPosted: m.debits_posted, creditsPosted: m.credits_posted, debitsPending: m.debits_pending, creditsPending: m.credits_pending } : a;
      this.accounts.set(a.id, {
        id: a.id, limited: a.limited, debitsPosted: b.debitsPosted, creditsPosted: b.creditsPosted, debitsPending: b.debitsPending, creditsPending: b.creditsPending,
      });
    }
  }
}

interface WrittenAccount { id: string; debits_posted: number; credits_posted: number; debits_pending: number; credits_pending: number }

interface LoadedBatch {
  now: string;
  accounts: { id: string; limited: boolean; debits_posted: number; credits_posted: number; debits_pending: number; credits_pending: number }[];
  transfers: (Omit<TransferRow, 'timeout_at' | 'created_at'> & { timeout_at: string | null; created_at: string })[];
  candidates: string[];
  /** For an expiry: how far voiding its candidates sweeps (ledger_expiry.swept_to). */
  swept_to: string | null;
}

/** ledger_write's new balances: "id debits_posted credits_posted debits_pending credits_pending", comma-separated. */
function parseAccounts(text: string): WrittenAccount[] {
  if (text === '') return [];
  return text.split(',').map((entry) => {
    const [id, dp, cp, dpe, cpe] = entry.split(' ');
    return { id: id!, debits_posted: Number(dp), credits_posted: Number(cp), debits_pending: Number(dpe), credits_pending: Number(cpe) };
  });
}

const fromJson = (r: LoadedBatch['transfers'][number]): Transfer =>
  toTransfer({ ...r, timeout_at: r.timeout_at ? new Date(r.timeout_at) : null, created_at: new Date(r.created_at) });

function availableEffect(kind: Transfer['kind'], side: 'debit' | 'credit', amount: number, holdAmount: number): number {
  if (side === 'credit') return kind === 'posted' || kind === 'post_pending' ? amount : 0;
  switch (kind) {
    case 'posted':
    case 'pending':
      return -amount;
    case 'post_pending':
      return holdAmount - amount;
    case 'void_pending':
      return amount;
  }
}

function checkId(id: unknown, field = 'id'): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
    throw validation(`${field} must be a non-empty string of at most 200 characters`, [{ path: field, message: 'invalid id' }]);
  }
}

function checkReason(reason: unknown): void {
  if (typeof reason !== 'string' || !REASON.test(reason)) {
    throw validation('reason must be a lower_snake reason code', [{ path: 'reason', message: 'invalid reason code' }]);
  }
}

function checkTransferInput(input: TransferInput): void {
  checkId(input.id);
  checkReason(input.reason);
  if (!Number.isSafeInteger(input.amount) || input.amount <= 0) {
    throw validation('amount must be a positive integer of millicredits', [{ path: 'amount', message: 'invalid amount' }]);
  }
  for (const field of ['debitAccountId', 'creditAccountId'] as const) {
    if (typeof input[field] !== 'string' || !UUID.test(input[field])) throw notFound(`Account ${String(input[field])}`);
  }
  if (input.debitAccountId === input.creditAccountId) throw validation('A transfer needs two different accounts');
}
