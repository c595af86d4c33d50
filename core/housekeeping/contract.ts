// The housekeeping context's contract: task queue, workflow types and the
// Temporal Schedules that run them.
export const HOUSEKEEPING_TASK_QUEUE = 'housekeeping';

export const housekeepingSchedules = {
  voidExpiredHolds: { scheduleId: 'housekeeping-void-expired-holds', workflowType: 'voidExpiredHolds', every: '1m' },
  checkLedgerInvariants: { scheduleId: 'housekeeping-check-ledger-invariants', workflowType: 'checkLedgerInvariants', every: '15m' },
  grantMonthlyAllowances: { scheduleId: 'housekeeping-grant-monthly-allowances', workflowType: 'grantMonthlyAllowances', every: '1h' },
} as const;

/** Workflow ids of scheduled runs get the schedule's time appended by Temporal. */
export const housekeepingWorkflowId = (name: keyof typeof housekeepingSchedules) => `housekeeping-${name}`;

export const LEDGER_INVARIANT_VIOLATION = 'LedgerInvariantViolation';
