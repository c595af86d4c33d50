// The credit ledger: the only way money moves in CMP.
import type { Db } from '../db';
import { PgLedger, type LedgerObserver, type LedgerOptions } from './pg-ledger';
import type { Ledger } from './types';

export * from './types';
export { expiryTransferId } from './apply';
export { checkLedgerInvariants } from './invariants';
export type { LedgerObserver, LedgerOptions };

/** A ledger over PostgreSQL with its own batcher (one per process is the intent). */
export function createLedger(db: Db, opts?: LedgerOptions): Ledger {
  return new PgLedger(db, opts);
}
