// Applies one batch of ledger operations in memory, in arrival order, each
// with its own success or failure. The caller (the PostgreSQL batcher) has
// locked every touched account and loaded every transfer the batch can meet,
// so the outcome here is exactly what the database will hold after commit.
import { AppError, conflict, InsufficientCreditsError, notFound, validation } from '../errors';
import type { HoldInput, ReleaseInput, SettleInput, Transfer, TransferInput } from './types';
import { REASONS } from './types';

export type LedgerOp =
  | { type: 'transfer'; input: TransferInput }
  | { type: 'hold'; input: HoldInput }
  | { type: 'settle'; input: SettleInput }
  | { type: 'release'; input: ReleaseInput }
  | { type: 'expire'; now: Date };

export interface AccountState {
  id: string;
  limited: boolean;
  debitsPosted: number;
  creditsPosted: number;
  debitsPending: number;
  creditsPending: number;
}

export interface BatchState {
  now: Date;
  accounts: Map<string, AccountState>;
  /** Every stored transfer whose id an op uses, and every hold an op resolves. */
  transfers: Map<string, Transfer>;
  /** Resolution (post/void) of a hold, by the hold's id. */
  resolutions: Map<string, Transfer>;
  /** Open holds due for expiry, oldest first (only read when the batch has an expire op). */
  expiryCandidates: Transfer[];
}

export type OpResult = { ok: true; value: Transfer | number } | { ok: false; error: Error };

export interface BatchOutcome {
  results: OpResult[];
  inserts: Transfer[];
  touched: Set<string>;
}

export const expiryTransferId = (pendingId: string) => `expire:${pendingId}`;

const available = (a: AccountState) => a.creditsPosted - a.debitsPosted - a.debitsPending;

export function applyBatch(ops: LedgerOp[], state: BatchState): BatchOutcome {
  const out: BatchOutcome = { results: [], inserts: [], touched: new Set() };

  const store = (t: Transfer) => {
    state.transfers.set(t.id, t);
    out.inserts.push(t);
    if (t.pendingId) state.resolutions.set(t.pendingId, t);
    out.touched.add(t.debitAccountId);
    out.touched.add(t.creditAccountId);
  };

  const account = (id: string) => {
    const a = state.accounts.get(id);
    if (!a) throw notFound(`Account ${id}`);
    return a;
  };

  const postOrHold = (input: TransferInput, kind: 'posted' | 'pending', timeoutMs?: number): Transfer => {
    const existing = state.transfers.get(input.id);
    if (existing) {
      const same = existing.kind === kind && existing.debitAccountId === input.debitAccountId && existing.creditAccountId === input.creditAccountId
        && existing.amount === input.amount && existing.reason === input.reason
        && existing.runId === (input.runId ?? null) && existing.orderId === (input.orderId ?? null);
      if (!same) throw conflict(`Transfer ${input.id} already exists with other parameters`, { transfer_id: input.id });
      return existing;
    }
    const debit = account(input.debitAccountId);
    const credit = account(input.creditAccountId);
    if (debit.limited && available(debit) < input.amount) throw new InsufficientCreditsError(available(debit), input.amount);
    if (kind === 'posted') {
      debit.debitsPosted += input.amount;
      credit.creditsPosted += input.amount;
    } else {
      debit.debitsPending += input.amount;
      credit.creditsPending += input.amount;
    }
    const t: Transfer = {
      id: input.id, kind, debitAccountId: debit.id, creditAccountId: credit.id, amount: input.amount, pendingId: null,
      timeoutAt: kind === 'pending' ? new Date(state.now.getTime() + (timeoutMs ?? 0)) : null,
      reason: input.reason, runId: input.runId ?? null, orderId: input.orderId ?? null, metadata: input.metadata ?? {}, createdAt: state.now,
    };
    store(t);
    return t;
  };

  // Posts (settle) or voids (release, expiry) a hold.
  const resolve = (id: string, pendingId: string, kind: 'post_pending' | 'void_pending', amount: number | null, refs: Partial<TransferInput>): Transfer => {
    const existing = state.transfers.get(id);
    if (existing) {
      const same = existing.kind === kind && existing.pendingId === pendingId && (amount === null || existing.amount === amount);
      if (!same) throw conflict(`Transfer ${id} already exists with other parameters`, { transfer_id: id });
      return existing;
    }
    const hold = state.transfers.get(pendingId);
    if (!hold) throw notFound(`Hold ${pendingId}`);
    if (hold.kind !== 'pending') throw conflict(`Transfer ${pendingId} is not a hold`, { pending_id: pendingId });
    const previous = state.resolutions.get(pendingId);
    if (previous) {
      throw conflict(`Hold ${pendingId} was already resolved by ${previous.id}`, {
        pending_id: pendingId, resolved_by: previous.id, resolution: previous.kind, resolution_reason: previous.reason,
      });
    }
    if (kind === 'post_pending') {
      if (amount! > hold.amount) throw validation(`Settle amount ${amount} exceeds the hold of ${hold.amount}`);
      if (hold.timeoutAt && hold.timeoutAt.getTime() <= state.now.getTime()) {
        throw conflict(`Hold ${pendingId} expired at ${hold.timeoutAt.toISOString()}`, { pending_id: pendingId, expired: true });
      }
    }
    const debit = account(hold.debitAccountId);
    const credit = account(hold.creditAccountId);
    debit.debitsPending -= hold.amount;
    credit.creditsPending -= hold.amount;
    const posted = kind === 'post_pending' ? amount! : 0;
    debit.debitsPosted += posted;
    credit.creditsPosted += posted;
    const t: Transfer = {
      id, kind, debitAccountId: hold.debitAccountId, creditAccountId: hold.creditAccountId,
      amount: kind === 'post_pending' ? posted : hold.amount, pendingId, timeoutAt: null,
      reason: refs.reason ?? (kind === 'post_pending' ? REASONS.settle : REASONS.release),
      runId: refs.runId ?? hold.runId, orderId: refs.orderId ?? hold.orderId, metadata: refs.metadata ?? {}, createdAt: state.now,
    };
    store(t);
    return t;
  };

  const expire = (now: Date): number => {
    let voided = 0;
    for (const hold of state.expiryCandidates) {
      if (!hold.timeoutAt || hold.timeoutAt.getTime() > now.getTime() || state.resolutions.has(hold.id)) continue;
      resolve(expiryTransferId(hold.id), hold.id, 'void_pending', null, { reason: REASONS.expired });
      voided += 1;
    }
    return voided;
  };

  for (const op of ops) {
    try {
      let value: Transfer | number;
      switch (op.type) {
        case 'transfer': value = postOrHold(op.input, 'posted'); break;
        case 'hold': value = postOrHold(op.input, 'pending', op.input.timeoutMs); break;
        case 'settle': value = resolve(op.input.id, op.input.pendingId, 'post_pending', op.input.amount, op.input); break;
        case 'release': value = resolve(op.input.id, op.input.pendingId, 'void_pending', null, op.input); break;
        case 'expire': value = expire(op.now); break;
      }
      out.results.push({ ok: true, value });
    } catch (error) {
      // Business errors fail only their own op; anything else is a bug and fails it too.
      out.results.push({ ok: false, error: error instanceof AppError ? error : (error as Error) });
    }
  }
  return out;
}
