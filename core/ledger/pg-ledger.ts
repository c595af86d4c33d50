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
// commit each, which is the same cost they pay for the transaction anyway.
import type { PoolClient } from 'pg';
import { notFound, validation } from '../errors';
import type { Db } from '../db';
import { applyBatch, expiryTransferId, type AccountState, type LedgerOp, type OpResult } from './apply';
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
const HOLD_CACHE_MAX = 50_000;

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
  lock: {
    name: 'ledger_lock_accounts',
    text: `select id, debits_must_not_exceed_credits as limited, debits_posted, credits_posted, debits_pending, credits_pending
           from accounts where id = any($1::uuid[]) order by id for update`,
  },
  load: {
    name: 'ledger_load_transfers',
    text: `select * from transfers where id = any($1::text[])
           union all
           select * from transfers where pending_id = any($2::text[]) and not (id = any($1::text[]))`,
  },
  holds: { name: 'ledger_load_holds', text: `select * from transfers where id = any($1::text[]) and kind = 'pending'` },
  candidates: {
    name: 'ledger_expiry_candidates',
    text: `select t.* from pending_holds h join transfers t on t.id = h.transfer_id
           where h.timeout_at <= $1 order by h.timeout_at, h.transfer_id limit $2`,
  },
  insert: {
    name: 'ledger_insert_transfers',
    text: `insert into transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, timeout_at, reason, run_id, order_id, metadata)
           select * from unnest($1::text[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[],
                                $8::text[], $9::text[], $10::text[], $11::jsonb[])`,
  },
  open: {
    name: 'ledger_open_holds',
    text: 'insert into pending_holds (transfer_id, timeout_at) select * from unnest($1::text[], $2::timestamptz[])',
  },
  close: { name: 'ledger_close_holds', text: 'delete from pending_holds where transfer_id = any($1::text[])' },
  update: {
    name: 'ledger_update_accounts',
    text: `update accounts a set debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dpe, credits_pending = v.cpe
           from unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) as v(id, dp, cp, dpe, cpe)
           where a.id = v.id`,
  },
} as const;

export class PgLedger implements Ledger {
  private queue: Pending[] = [];
  private running = false;
  /** Holds are immutable, so their accounts and amounts can be remembered. */
  private holdCache = new Map<string, Transfer>();
  private readonly maxBatch: number;
  private readonly expiryBatch: number;
  private readonly maxRetries: number;

  constructor(private readonly db: Db, opts: LedgerOptions = {}) {
    this.maxBatch = opts.maxBatch ?? 500;
    this.expiryBatch = opts.expiryBatch ?? 500;
    this.maxRetries = opts.maxRetries ?? 5;
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
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        let results: OpResult[];
        try {
          results = await this.commitWithRetry(batch.map((p) => p.op));
        } catch (error) {
          for (const p of batch) p.reject(error as Error);
          continue;
        }
        results.forEach((r, i) => (r.ok ? batch[i]!.resolve(r.value) : batch[i]!.reject(r.error)));
      }
    } finally {
      this.running = false;
    }
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
    const client0 = (await this.db.client.acquireConnection()) as PoolClient;
    const client = { query: async (q: any, v?: any) => { const t = performance.now(); const r = await client0.query(q, v); const k = typeof q === 'string' ? q : q.name; (globalThis as any).PROF ??= {}; const P = (globalThis as any).PROF; P[k] = (P[k] ?? 0) + performance.now() - t; P[k + '#'] = (P[k + '#'] ?? 0) + 1; return r; } } as any as PoolClient;
    (globalThis as any).PROF ??= {}; (globalThis as any).PROF.ops = ((globalThis as any).PROF.ops ?? 0) + ops.length;
    let broken = false;
    try {
      // Holds this batch resolves: their accounts must be locked too.
      const pendingIds = new Set<string>();
      const ids = new Set<string>();
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
      const unknownHolds = [...pendingIds].filter((id) => !this.holdCache.has(id) && !ids.has(id));
      if (unknownHolds.length > 0) {
        const { rows } = await client.query<TransferRow>({ ...SQL.holds, values: [unknownHolds] });
        for (const r of rows) this.remember(toTransfer(r));
      }

      await client.query('begin');
      const { rows: [clock] } = await client.query<{ now: Date }>('select now()');
      const now = clock!.now;
      let expiryCandidates: Transfer[] = [];
      if (expiryNow) {
        const { rows } = await client.query<TransferRow>({ ...SQL.candidates, values: [expiryNow, this.expiryBatch] });
        expiryCandidates = rows.map(toTransfer);
        for (const t of expiryCandidates) {
          pendingIds.add(t.id);
          ids.add(expiryTransferId(t.id));
        }
      }
      for (const id of pendingIds) {
        const hold = this.holdCache.get(id) ?? expiryCandidates.find((t) => t.id === id);
        if (hold) {
          accountIds.add(hold.debitAccountId);
          accountIds.add(hold.creditAccountId);
        }
      }

      const lockIds = [...accountIds].filter((id) => UUID.test(id)).sort();
      const { rows: locked } = await client.query<{ id: string; limited: boolean; debits_posted: number; credits_posted: number; debits_pending: number; credits_pending: number }>(
        { ...SQL.lock, values: [lockIds] },
      );
      const accounts = new Map<string, AccountState>();
      const before = new Map<string, string>();
      for (const r of locked) {
        accounts.set(r.id, {
          id: r.id, limited: r.limited, debitsPosted: r.debits_posted, creditsPosted: r.credits_posted,
          debitsPending: r.debits_pending, creditsPending: r.credits_pending,
        });
        before.set(r.id, `${r.debits_posted}/${r.credits_posted}/${r.debits_pending}/${r.credits_pending}`);
      }

      const transfers = new Map<string, Transfer>();
      const resolutions = new Map<string, Transfer>();
      for (const t of expiryCandidates) transfers.set(t.id, t);
      for (const id of pendingIds) {
        const hold = this.holdCache.get(id);
        if (hold) transfers.set(id, hold);
      }
      // Read after locking: whatever touched these accounts before us has committed.
      const wanted = [...ids, ...[...pendingIds].filter((id) => !transfers.has(id))];
      const { rows: stored } = await client.query<TransferRow>({ ...SQL.load, values: [wanted, [...pendingIds]] });
      for (const r of stored) {
        const t = toTransfer(r);
        transfers.set(t.id, t);
        if (t.pendingId && pendingIds.has(t.pendingId)) resolutions.set(t.pendingId, t);
      }

      const outcome = applyBatch(ops, { now, accounts, transfers, resolutions, expiryCandidates });

      if (outcome.inserts.length > 0) {
        const rows = outcome.inserts;
        await client.query({
          ...SQL.insert,
          values: [
            rows.map((t) => t.id), rows.map((t) => t.debitAccountId), rows.map((t) => t.creditAccountId), rows.map((t) => t.amount),
            rows.map((t) => t.kind), rows.map((t) => t.pendingId), rows.map((t) => t.timeoutAt?.toISOString() ?? null),
            rows.map((t) => t.reason), rows.map((t) => t.runId), rows.map((t) => t.orderId), rows.map((t) => JSON.stringify(t.metadata)),
          ],
        });
      }
      if (outcome.opened.length > 0) {
        await client.query({ ...SQL.open, values: [outcome.opened.map((t) => t.id), outcome.opened.map((t) => t.timeoutAt!.toISOString())] });
      }
      if (outcome.resolved.length > 0) await client.query({ ...SQL.close, values: [outcome.resolved] });
      const changed = [...outcome.touched].map((id) => accounts.get(id)!).filter(
        (a) => before.get(a.id) !== `${a.debitsPosted}/${a.creditsPosted}/${a.debitsPending}/${a.creditsPending}`,
      );
      if (changed.length > 0) {
        await client.query({
          ...SQL.update,
          values: [
            changed.map((a) => a.id), changed.map((a) => a.debitsPosted), changed.map((a) => a.creditsPosted),
            changed.map((a) => a.debitsPending), changed.map((a) => a.creditsPending),
          ],
        });
      }
      await client.query('commit');
      for (const t of outcome.opened) this.remember(t);
      for (const id of outcome.resolved) this.holdCache.delete(id);
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
      await this.db.client.releaseConnection(client0);
    }
  }

  private remember(hold: Transfer): void {
    if (hold.kind !== 'pending') return;
    if (this.holdCache.size >= HOLD_CACHE_MAX) {
      const oldest = this.holdCache.keys().next().value;
      if (oldest !== undefined) this.holdCache.delete(oldest);
    }
    this.holdCache.set(hold.id, hold);
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
