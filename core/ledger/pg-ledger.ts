// The ledger on PostgreSQL, with group commit.
//
// A row lock and a commit per transfer caps a hot wallet at the disk's fsync
// rate (a few hundred per second). Instead every Ledger instance has one
// batcher: operations that arrive while a transaction is in flight wait in a
// queue, and the next transaction applies all of them at once:
//   1. lock every touched account FOR UPDATE, in id order (deadlock-free
//      across processes: every batcher locks in the same order);
//   2. load the transfers the batch can meet (its ids, for idempotency, and
//      the holds it resolves with their resolutions) in one query;
//   3. apply each op in memory in arrival order (apply.ts), each with its own
//      success or failure;
//   4. one multi-row INSERT of transfers, one UPDATE of the touched accounts;
//   5. commit, then resolve each caller's promise.
// Several processes (API replicas, workers) each run a batcher; the row locks
// serialize their batches on shared accounts, and the database constraints
// (wallet check, one resolution per hold, unique ids) hold whatever happens.
//
// The revenue account is credited by every hold and settle, so every batch
// locks it. It is not sharded: within a process the batcher already makes it
// one row update per batch, and across processes batches queue on it for one
// commit each, which is the same cost they pay for the transaction anyway
// (measured: spread over 1,000 wallets runs as fast as one hot wallet).
import type { PoolClient } from 'pg';
import { notFound, validation } from '../errors';
import type { Db } from '../db';
import { applyBatch, type AccountState, type LedgerOp, type OpResult } from './apply';
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
   * Transactions one instance runs at once. 1 is plain group commit; 2 (the
   * default) overlaps one batch's commit (fsync) with the next one's locking
   * and loading, which measured ~1.5× faster here; 4 was slower again.
   */
  maxInFlight?: number;
  /** Whole-batch retries on a transient database error (deadlock, a racing duplicate id). */
  maxRetries?: number;
}

interface Pending {
  op: LedgerOp;
  resolve: (value: Transfer | number) => void;
  reject: (error: Error) => void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REASON = /^[a-z][a-z0-9_]{0,63}$/;
const RETRYABLE = new Set(['23505', '40P01', '40001']);

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
  lockAndLoad: {
    name: 'ledger_lock_and_load',
    text: 'select ledger_lock_and_load($1::uuid[], $2::text[], $3::text[], $4::timestamptz, $5::int) as batch',
  },
  // One statement writes the whole batch: transfers, the open-holds list and the balances.
  write: {
    name: 'ledger_write_batch',
    text: `with inserted as (
             insert into transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, timeout_at, reason, run_id, order_id, metadata)
             select * from unnest($1::text[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[],
                                  $8::text[], $9::text[], $10::text[], $11::jsonb[])
           ), opened as (
             insert into pending_holds (transfer_id, timeout_at) select * from unnest($12::text[], $13::timestamptz[])
           ), closed as (
             delete from pending_holds where transfer_id = any($14::text[])
           )
           update accounts a set debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dpe, credits_pending = v.cpe
           from unnest($15::uuid[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[]) as v(id, dp, cp, dpe, cpe)
           where a.id = v.id`,
  },
} as const;

export class PgLedger implements Ledger {
  private queue: Pending[] = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly maxBatch: number;
  private readonly expiryBatch: number;
  private readonly maxRetries: number;

  constructor(private readonly db: Db, opts: LedgerOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.expiryBatch = opts.expiryBatch ?? 500;
    this.maxRetries = opts.maxRetries ?? 5;
    this.maxInFlight = opts.maxInFlight ?? 2;
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
    // Insert-or-read on the unique code: concurrent callers all get the same row.
    const inserted = await this.db('accounts')
      .insert({ code, kind, org_id: orgId, debits_must_not_exceed_credits: limited })
      .onConflict('code').ignore()
      .returning<AccountRow[]>(['id', 'code', 'org_id', 'kind', 'debits_must_not_exceed_credits', 'created_at']);
    const row = inserted[0] ?? (await this.db<AccountRow>('accounts').where({ code }).first());
    if (!row) throw new Error(`account ${code} vanished`);
    return toAccount(row);
  }

  // ── the batcher ────────────────────────────────────────────────────────────

  private submit(op: LedgerOp): Promise<Transfer | number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (this.inFlight < this.maxInFlight) void this.runBatch();
    });
  }

  // Takes everything queued (up to maxBatch) into one transaction; when it
  // commits, whatever queued meanwhile goes into the next.
  private async runBatch(): Promise<void> {
    if (this.queue.length === 0) return;
    this.inFlight += 1;
    const batch = this.queue.splice(0, this.maxBatch);
    try {
      const results = await this.commitWithRetry(batch.map((p) => p.op));
      results.forEach((r, i) => (r.ok ? batch[i]!.resolve(r.value) : batch[i]!.reject(r.error)));
    } catch (error) {
      for (const p of batch) p.reject(error as Error);
    } finally {
      this.inFlight -= 1;
    }
    if (this.inFlight < this.maxInFlight) void this.runBatch();
  }

  private async commitWithRetry(ops: LedgerOp[]): Promise<OpResult[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.commitBatch(ops);
      } catch (error) {
        const code = (error as { code?: string }).code;
        // A concurrent process inserted one of our ids (or resolved one of our
        // holds) after we read: the retry reads it and answers replay or conflict.
        if (!code || !RETRYABLE.has(code) || attempt >= this.maxRetries) throw error;
      }
    }
  }

  private async commitBatch(ops: LedgerOp[]): Promise<OpResult[]> {
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
        ...SQL.lockAndLoad,
        values: [[...accountIds].filter((id) => UUID.test(id)), [...ids], [...pendingIds], expiryNow, this.expiryBatch],
      });
      const batch = loaded!.batch;
      const accounts = new Map<string, AccountState>();
      const before = new Map<string, string>();
      for (const r of batch.accounts) {
        const a: AccountState = {
          id: r.id, limited: r.limited, debitsPosted: r.debits_posted, creditsPosted: r.credits_posted,
          debitsPending: r.debits_pending, creditsPending: r.credits_pending,
        };
        accounts.set(r.id, a);
        before.set(r.id, balanceKey(a));
      }
      const allPending = new Set([...pendingIds, ...batch.candidates]);
      const transfers = new Map<string, Transfer>();
      const resolutions = new Map<string, Transfer>();
      for (const r of batch.transfers) {
        const t = fromJson(r);
        transfers.set(t.id, t);
        if (t.pendingId && allPending.has(t.pendingId)) resolutions.set(t.pendingId, t);
      }
      const expiryCandidates = batch.candidates.flatMap((id) => transfers.get(id) ?? []);

      const outcome = applyBatch(ops, { now: new Date(batch.now), accounts, transfers, resolutions, expiryCandidates });

      // A hold opened and resolved in the same batch never enters pending_holds.
      const resolvedHere = new Set(outcome.resolved);
      const openedHere = new Set(outcome.opened.map((t) => t.id));
      const opened = outcome.opened.filter((t) => !resolvedHere.has(t.id));
      const closed = outcome.resolved.filter((id) => !openedHere.has(id));
      const changed = [...outcome.touched].map((id) => accounts.get(id)!).filter((a) => before.get(a.id) !== balanceKey(a));
      const rows = outcome.inserts;
      if (rows.length > 0 || changed.length > 0) {
        await client.query({
          ...SQL.write,
          values: [
            rows.map((t) => t.id), rows.map((t) => t.debitAccountId), rows.map((t) => t.creditAccountId), rows.map((t) => t.amount),
            rows.map((t) => t.kind), rows.map((t) => t.pendingId), rows.map((t) => t.timeoutAt?.toISOString() ?? null),
            rows.map((t) => t.reason), rows.map((t) => t.runId), rows.map((t) => t.orderId), rows.map((t) => JSON.stringify(t.metadata)),
            opened.map((t) => t.id), opened.map((t) => t.timeoutAt!.toISOString()),
            closed,
            changed.map((a) => a.id), changed.map((a) => a.debitsPosted), changed.map((a) => a.creditsPosted),
            changed.map((a) => a.debitsPending), changed.map((a) => a.creditsPending),
          ],
        });
      }
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
}

interface LoadedBatch {
  now: string;
  accounts: { id: string; limited: boolean; debits_posted: number; credits_posted: number; debits_pending: number; credits_pending: number }[];
  transfers: (Omit<TransferRow, 'timeout_at' | 'created_at'> & { timeout_at: string | null; created_at: string })[];
  candidates: string[];
}

const balanceKey = (a: AccountState) => `${a.debitsPosted}/${a.creditsPosted}/${a.debitsPending}/${a.creditsPending}`;

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
