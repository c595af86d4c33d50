// Ledger activities: thin functions over an injected Ledger. Business errors
// (insufficient credits, conflicts, validation) are permanent, so they are
// turned into non-retryable failures that keep their problem type.
import { ApplicationFailure } from '@temporalio/common';
import { AppError } from '../../core/errors';
import { recordInvariantCheck } from '../../core/metrics/business';
import type { HoldInput, Ledger, ReleaseInput, SettleInput, Transfer, TransferInput } from '../../core/ledger';

async function permanentOnBusinessError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof AppError && error.status < 500) {
      throw ApplicationFailure.create({
        type: error.type, message: error.message, nonRetryable: true, details: [{ status: error.status, ...error.extensions }],
      });
    }
    throw error;
  }
}

/** Workflows get the transfers with dates as ISO strings (they cross the payload converter). */
export type TransferResult = Omit<Transfer, 'timeoutAt' | 'createdAt'> & { timeoutAt: string | null; createdAt: string };

const toResult = (t: Transfer): TransferResult => ({ ...t, timeoutAt: t.timeoutAt?.toISOString() ?? null, createdAt: t.createdAt.toISOString() });

export function createLedgerActivities(ledger: Ledger) {
  return {
    async hold(input: HoldInput): Promise<TransferResult> {
      return toResult(await permanentOnBusinessError(() => ledger.hold(input)));
    },
    async settle(input: SettleInput): Promise<TransferResult> {
      return toResult(await permanentOnBusinessError(() => ledger.settle(input)));
    },
    async release(input: ReleaseInput): Promise<TransferResult> {
      return toResult(await permanentOnBusinessError(() => ledger.release(input)));
    },
    async transfer(input: TransferInput): Promise<TransferResult> {
      return toResult(await permanentOnBusinessError(() => ledger.transfer(input)));
    },
    /** Voids every hold past its timeout; returns how many. */
    async expireHolds(): Promise<{ voided: number }> {
      return { voided: await ledger.expire() };
    },
    async checkLedgerInvariants(): Promise<{ violations: string[] }> {
      const result = await ledger.checkInvariants();
      recordInvariantCheck(result.violations.length);
      return result;
    },
  };
}

export type LedgerActivities = ReturnType<typeof createLedgerActivities>;
