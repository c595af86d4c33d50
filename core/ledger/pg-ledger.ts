// The ledger on PostgreSQL, with group commit.
//
// A row lock and a commit per transfer caps a hot wallet at the disk's fsync
// rate (a few hundred per second). Instead every Ledger instance has one
// batcher: operations that arrive while batches are in flight wait in a
// queue, and the next batch applies all of them at once, in arrival order,
// each with its own success or failure (apply.ts). A batch is one
// transaction that goes the exact way: take the ledger lock shared, lock
// every account it touches in id order, read the accounts and the transfers
// it may meet, apply, write, commit. Batches start once the event loop's turn
// is over, so the callers one commit wakes go together into the next batch.
//
// Several processes (API replicas, workers) each run a batcher: every one
// locks accounts in the same order, so they never deadlock, and the
// database's constraints (wallet check, one resolution per hold, unique ids,
// foreign keys) hold whatever happens.
//
// Expiry keeps a mark (ledger_expiry.swept_to): every hold timing out at or
// before it is resolved, so a sweep reads only the holds that timed out since.
// A hold still being written when a sweep reads must not fall behind the
// mark. Every batch holds the ledger's advisory lock shared until it commits
// and stamps its transfers with the clock read after taking it; a sweep first
// takes the lock alone for an instant (a barrier). Every write that held the
// lock before has then committed, so the sweep sees it; every later write
// stamps, and its holds time out (at least 1 ms on), after the barrier's
// clock, which the mark never passes. New writes queue behind a waiting
// barrier, so it waits a second at most: when a write is stuck in flight,
// the sweep voids what it sees and leaves the mark where it was.
import type { PoolClient, QueryResult } from 'pg';
import { notFound, validation } from '../errors';
import type { Db } from '../db';
import { applyBatch, type AccountState, type BatchState, type LedgerOp, type OpResult } from './apply';
import { checkLedgerInvariants } from './invariants';
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
  /** Told of every batch as it ends (metrics: its size, commit time, the holds it placed or resolved). */
  observer?: LedgerObserver;
}

/** Sees each batch's ops and results (null: the batch failed whole); must be cheap and must not throw. */
export interface LedgerObserver {
  batchCommitted(ops: readonly LedgerOp[], results: readonly OpResult[] | null, seconds: number): void;
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
// A concurrent writer inserted one of our ids (23505), a deadlock or serialization failure: the retry reads
// what the other wrote and answers replay or conflict.
const RETRYABLE = new Set(['23505', '40P01', '40001']);
/** The key of the ledger's advisory lock: batches share it; an expiry sweep's barrier takes it alone. */
export const LEDGER_LOCK = 7_254_410_001;
/** How long a sweep's barrier waits for the writes in flight before it gives up (and leaves the mark). */
const BARRIER_WAIT = '1s';

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

interface BalanceRow {
  id: string;
  limited: boolean;
  debits_posted: number;
  credits_posted: number;
  debits_pending: number;
  credits_pending: number;
}

// The batch's statements. Each reads with a new snapshot (READ COMMITTED), so what is read after a lock is
// granted includes every commit that held it.
const SQL = {
  /** Opens a batch: the lock shared, then the clock its transfers are stamped with (after the lock: see above). */
  begin: `begin; select pg_advisory_xact_lock_shared(${LEDGER_LOCK}); select date_trunc('milliseconds', clock_timestamp()) as now`,
  /** A sweep's barrier, in a transaction of its own before the batch's. */
  barrier: `begin; set local lock_timeout = '${BARRIER_WAIT}'; select pg_advisory_xact_lock(${LEDGER_LOCK}); select clock_timestamp() as barrier; commit`,
  /**
   * The holds due ($1 the sweep's now, at most $2) since the mark, and the new mark once they are voided: up to
   * the barrier ($3) and the sweep's now, or, when the limit cut the list, to just before the last one's
   * timeout; where it was if the barrier gave up.
   */
  due: `with mark as (select swept_to from ledger_expiry),
        due as (select h.id, h.timeout_at from transfers h, mark
                where h.kind = 'pending' and h.timeout_at > mark.swept_to and h.timeout_at <= $1
                  and not exists (select 1 from transfers r where r.pending_id = h.id)
                order by h.timeout_at, h.id limit $2)
        select coalesce(array_agg(due.id order by due.timeout_at, due.id), '{}') as candidates,
               (case when $3::timestamptz is null then (select swept_to from mark)
                     else greatest((select swept_to from mark),
                                   least($3::timestamptz, $1,
                                         case when count(*) >= $2 then max(due.timeout_at) - interval '1 microsecond' end))
                end)::text as swept_to
        from due`,
  /** The accounts named ($1) and those of the holds resolved ($2), locked in id order. */
  lockAccounts: (withHolds: boolean) => `
        select id, debits_must_not_exceed_credits as limited, debits_posted, credits_posted, debits_pending, credits_pending
        from accounts
        where id = any($1::uuid[]${withHolds ? ` || array(select unnest(array[debit_account_id, credit_account_id]) from transfers where id = any($2::text[]))` : ''})
        order by id for no key update`,
  /**
   * The transfers with the batch's ids or holds ($1), and the resolutions of its holds ($2). (No lookup by an
   * empty list of holds: planned for one, PostgreSQL has read the holds' timeout index whole.)
   */
  transfers: (withHolds: boolean) => `select * from transfers where id = any($1::text[])${withHolds ? `
              union all
              select * from transfers where pending_id = any($2::text[]) and not (id = any($1::text[]))` : ''}`,
  /** The batch's transfers (in order: seq is the statement's cursor) and its balance changes. */
  write: `with inserted as (
            insert into transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, timeout_at, reason, run_id, order_id, metadata, created_at)
            select id, debit, credit, amount, kind, pending, timeout_at, reason, run, order_ref, metadata, $12
            from unnest($1::text[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::text[],
                        $10::text[], $11::jsonb[])
              with ordinality as t(id, debit, credit, amount, kind, pending, timeout_at, reason, run, order_ref, metadata, n)
            order by n
            returning 1
          )
          update accounts a set debits_posted = a.debits_posted + v.dp, credits_posted = a.credits_posted + v.cp,
                                debits_pending = a.debits_pending + v.dpe, credits_pending = a.credits_pending + v.cpe
          from unnest($13::uuid[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[]) as v(id, dp, cp, dpe, cpe)
          where a.id = v.id`,
  mark: 'update ledger_expiry set swept_to = greatest(swept_to, $1::timestamptz)',
} as const;

export class PgLedger implements Ledger {
  private queue: Pending[] = [];
  private inFlight = 0;
  private startScheduled = false;
  private readonly maxInFlight: number;
  private readonly maxBatch: number;
  private readonly expiryBatch: number;
  private readonly maxRetries: number;
  private readonly observer: LedgerObserver | undefined;

  constructor(private readonly db: Db, opts: LedgerOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.expiryBatch = opts.expiryBatch ?? 500;
    this.maxRetries = opts.maxRetries ?? 5;
    this.maxInFlight = opts.maxInFlight ?? 2;
    this.observer = opts.observer;
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

  async getWallet(id: string): Promise<Account | null> {
    if (!UUID.test(id)) return null;
    const row = await this.db<AccountRow>('accounts').where({ id, kind: 'wallet' }).first();
    return row ? toAccount(row) : null;
  }

  async ensureWallet(orgId: string): Promise<Account> {
    if (!UUID.test(orgId)) throw validation('orgId must be a uuid');
    return this.ensureAccount(`wallet:${orgId}`, 'wallet', orgId, true);
  }

  async walletAvailable(payer: { kind: 'org'; orgId: string } | { kind: 'demo'; visitorId: string }): Promise<number> {
    const code = payer.kind === 'org' ? `wallet:${payer.orgId}` : `demo_wallet:${payer.visitorId}`;
    const row = await this.db('accounts').where({ code }).first<{ available: string | number } | undefined>(this.db.raw('credits_posted - debits_posted - debits_pending as available'));
    return row ? Number(row.available) : 0;
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
    const ops = batch.map((p) => p.op);
    const t0 = performance.now();
    let results: OpResult[] | null = null;
    try {
      results = await this.commitWithRetry(ops);
    } catch (error) {
      for (const p of batch) p.reject(error as Error);
    } finally {
      this.inFlight -= 1;
    }
    const seconds = (performance.now() - t0) / 1000;
    results?.forEach((r, i) => (r.ok ? batch[i]!.resolve(r.value) : batch[i]!.reject(r.error)));
    // Only once every caller has its answer: an observer that throws cannot turn a committed op into a failure.
    try {
      this.observer?.batchCommitted(ops, results, seconds);
    } catch {
      // Metrics only; the batch's outcome stands.
    }
    this.startBatches();
  }

  private async commitWithRetry(ops: LedgerOp[]): Promise<OpResult[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.commit(ops);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (!code || !RETRYABLE.has(code) || attempt >= this.maxRetries) throw error;
      }
    }
  }

  /** One batch, the exact way: lock, read, apply, write, commit. */
  private async commit(ops: LedgerOp[]): Promise<OpResult[]> {
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
      const barrier = expiryNow ? await this.barrier(client) : null;
      const opened = (await client.query(SQL.begin)) as unknown as QueryResult<{ now: Date }>[];
      const now = opened[2]!.rows[0]!.now;

      let candidates: string[] = [];
      let sweptTo: string | null = null;
      if (expiryNow) {
        const { rows: [due] } = await client.query<{ candidates: string[]; swept_to: string }>(SQL.due, [expiryNow, this.expiryBatch, barrier]);
        candidates = due!.candidates;
        sweptTo = due!.swept_to;
      }
      const holds = [...pendingIds, ...candidates];
      const named = [...accountIds]; // uuids: checkTransferInput tested every transfer's and hold's accounts
      const withHolds = holds.length > 0;
      const { rows: accountRows } = named.length > 0 || withHolds
        ? await client.query<BalanceRow>(SQL.lockAccounts(withHolds), withHolds ? [named, holds] : [named])
        : { rows: [] };
      const { rows: transferRows } = await client.query<TransferRow>(SQL.transfers(withHolds), withHolds ? [[...ids, ...holds], holds] : [[...ids]]);

      const accounts = new Map<string, AccountState>();
      const start = new Map<string, BalanceRow>();
      for (const r of accountRows) {
        accounts.set(r.id, {
          id: r.id, limited: r.limited, debitsPosted: r.debits_posted, creditsPosted: r.credits_posted,
          debitsPending: r.debits_pending, creditsPending: r.credits_pending,
        });
        start.set(r.id, r);
      }
      const transfers = new Map<string, Transfer>();
      const resolutions = new Map<string, Transfer>();
      const holdSet = new Set(holds);
      for (const r of transferRows) {
        const t = toTransfer(r);
        transfers.set(t.id, t);
        if (t.pendingId && holdSet.has(t.pendingId)) resolutions.set(t.pendingId, t);
      }
      const expiryCandidates = candidates.flatMap((id) => transfers.get(id) ?? []);
      const state: BatchState = { now, accounts, transfers, resolutions, expiryCandidates };

      const outcome = applyBatch(ops, state);
      const rows = outcome.inserts;
      const moves = [...outcome.touched].flatMap((id) => {
        const a = state.accounts.get(id)!;
        const s = start.get(id)!;
        const m = { id, dp: a.debitsPosted - s.debits_posted, cp: a.creditsPosted - s.credits_posted, dpe: a.debitsPending - s.debits_pending, cpe: a.creditsPending - s.credits_pending };
        return m.dp || m.cp || m.dpe || m.cpe ? [m] : [];
      });
      if (rows.length > 0) {
        await client.query(SQL.write, [
          rows.map((t) => t.id), rows.map((t) => t.debitAccountId), rows.map((t) => t.creditAccountId), rows.map((t) => t.amount),
          rows.map((t) => t.kind), rows.map((t) => t.pendingId), rows.map((t) => t.timeoutAt), rows.map((t) => t.reason),
          rows.map((t) => t.runId), rows.map((t) => t.orderId), rows.map((t) => JSON.stringify(t.metadata)), now,
          moves.map((m) => m.id), moves.map((m) => m.dp), moves.map((m) => m.cp), moves.map((m) => m.dpe), moves.map((m) => m.cpe),
        ]);
      }
      if (sweptTo !== null) await client.query(SQL.mark, [sweptTo]);
      await client.query('commit');
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

  /** A sweep's barrier: the clock once every write that held the ledger lock has committed; null if it gave up. */
  private async barrier(client: PoolClient): Promise<Date | null> {
    try {
      const results = (await client.query(SQL.barrier)) as unknown as QueryResult<{ barrier: Date }>[];
      return results[3]!.rows[0]!.barrier;
    } catch (error) {
      // A failing rollback must not hide why the barrier failed (commit's own rollback then marks the connection broken).
      await client.query('rollback').catch(() => undefined);
      if ((error as { code?: string }).code === '55P03') return null; // lock_not_available
      throw error;
    }
  }
}

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
