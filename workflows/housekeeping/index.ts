// Housekeeping workflows, run by Temporal Schedules on the 'housekeeping'
// task queue: void expired credit holds, check the ledger's invariants, and
// grant the monthly plan allowances.
import { ApplicationFailure, log, proxyActivities } from '@temporalio/workflow';
import type { LedgerActivities } from '../../activities/ledger';
import type { AllowanceActivities } from '../../activities/ledger/allowances';
import { housekeepingActivityOptions } from '../retry-policies';
import { LEDGER_INVARIANT_VIOLATION } from '../../core/housekeeping/contract';

const ledger = proxyActivities<LedgerActivities & AllowanceActivities>(housekeepingActivityOptions);

/** Voids every credit hold past its timeout (each void is idempotent per hold). */
export async function voidExpiredHolds(): Promise<{ voided: number }> {
  const result = await ledger.expireHolds();
  if (result.voided > 0) log.info('voided expired holds', { voided: result.voided });
  return result;
}

/**
 * Checks the ledger's invariants. A violation fails the workflow with a
 * non-retryable error listing them, so it shows red in the Temporal UI and
 * alerts on failed housekeeping runs page someone.
 */
export async function checkLedgerInvariants(): Promise<{ violations: string[] }> {
  const result = await ledger.checkLedgerInvariants();
  if (result.violations.length > 0) {
    log.error('ledger invariants violated', { violations: result.violations });
    throw ApplicationFailure.create({
      type: LEDGER_INVARIANT_VIOLATION,
      message: `${result.violations.length} ledger invariant violation(s): ${result.violations.join('; ')}`,
      nonRetryable: true,
      details: result.violations,
    });
  }
  return result;
}

/**
 * Grants this month's allowance to every active instance that has not had it
 * (hourly, so a month's first sweep that failed or never ran is made up by the
 * next). The month is the workflow's own clock: a replay grants the same one.
 */
export async function grantMonthlyAllowances(): Promise<{ period: string; granted: number }> {
  // `YYYY-MM` in UTC, as core/instances/allowances.ts's allowancePeriod.
  const period = new Date().toISOString().slice(0, 7);
  let granted = 0;
  let afterId: string | null = null;
  do {
    const page: { granted: number; nextAfterId: string | null } = await ledger.grantAllowancesDue({ period, afterId });
    granted += page.granted;
    afterId = page.nextAfterId;
  } while (afterId);
  if (granted > 0) log.info('granted monthly allowances', { period, granted });
  return { period, granted };
}
