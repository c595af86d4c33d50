// The provisioning context's contract: task queue, workflow ids, signals,
// queries and status values. The API, the store, the support console and the
// workers import these instead of repeating strings. It lives in core/ (as
// every context's contract.ts) so activities use it without importing from
// workflows/ (DESIGN: activities → core); workflows may import it because
// lint allows them core/<context>/contract.ts and nothing else of core.
import { defineQuery, defineUpdate } from '@temporalio/workflow';

export const PROVISIONING_TASK_QUEUE = 'provisioning';

/** Business-keyed ids: a duplicate webhook or a retried call lands on the same workflow. */
export const orderWorkflowId = (orderId: string) => `order-${orderId}`;
export const deprovisionWorkflowId = (instanceId: string) => `deprovision-${instanceId}`;
export const catalogSyncWorkflowId = (offeringId: string) => `catalog-sync-${offeringId}`;
export const SWEEP_SCHEDULE_ID = 'sweep-paid-orders';

/** Every status an order can have (the orders table, the workflow's progress, the cmp_orders gauge's labels). */
export const ORDER_STATUSES = ['received', 'provisioning', 'needs_attention', 'fulfilled', 'cancelling', 'cancelled', 'failed'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export type StepStatus = 'running' | 'done' | 'failed' | 'compensated' | 'skipped';

export interface StepProgress {
  name: string;
  status: StepStatus;
  attempts: number;
  error?: StepError;
  startedAt: string;
  finishedAt?: string;
}

export interface StepError {
  type: string;
  message: string;
  details?: unknown;
}

export interface OrderProgress {
  orderId: string;
  status: OrderStatus;
  orgId?: string;
  instanceIds: string[];
  currentStep?: string;
  steps: StepProgress[];
  lastError?: StepError & { step: string };
  /** Set while a cancel could not take everything back: what failed, and what each support decision would refund. */
  unwind?: UnwindReport;
  /** How the cancel ended: what was refunded in Saleor and what the ledger took back. */
  refund?: RefundOutcome;
}

/**
 * Support's answer to a cancel whose compensation failed (a full refund is never automatic then):
 * - `refund_unspent`: take back what can still be taken (credits not spent) and refund that part of each line;
 * - `refund_all`: take back what can be taken, book the rest as an audited credit adjustment, refund the whole order;
 * - `keep`: no refund; the order ends cancelled with what was already taken back.
 */
export const REFUND_DECISIONS = ['refund_unspent', 'refund_all', 'keep'] as const;
export type RefundDecision = (typeof REFUND_DECISIONS)[number];

export interface RefundDecisionInput extends SupportAction {
  decision: RefundDecision;
}

/** One order line's figures while the order waits for a refund decision. Money in the currency's minor units. */
export interface UnwindLine {
  line: number;
  kind: 'credit_pack' | 'plan';
  /** The line's total as Saleor charged it (0 for a free subscription). */
  totalMinor: number;
  /** Credit packs: what the order granted, and what the wallet can still give back now (the unspent part). */
  grantedMc?: number;
  unspentMc?: number;
  /** Everything this line provisioned was taken back. */
  takenBack: boolean;
}

export interface UnwindReport {
  currency: string;
  /** The order's total and what is still refundable in Saleor, in minor units (cents for USD). */
  totalMinor: number;
  /** The compensations that failed, the lines they belong to and their errors: what could not be taken back. */
  failed: { compensation: string; lines: number[]; error: StepError }[];
  /** The compensations that succeeded. */
  takenBack: string[];
  lines: UnwindLine[];
  /** What each decision would refund, were it taken now. */
  refundUnspentMinor: number;
  refundAllMinor: number;
}

export interface RefundOutcome {
  /** `full`: every compensation succeeded, so the whole order was refunded without asking support. */
  decision: RefundDecision | 'full';
  by?: string;
  refundedMinor: number;
  creditsTakenBackMc: number;
  /** Spent credits booked to the adjustments account (refund_all). */
  creditsWrittenOffMc: number;
}

/** A paid order comes from Saleor; a free subscription carries its line itself. */
export type OrderInput =
  | { kind: 'paid'; orderId: string }
  | { kind: 'free'; orderId: string; orgId: string; userId: string; planId: string; instanceId: string };

export interface SupportAction {
  actor: string;
  reason: string;
}

/**
 * Support's actions are Updates, not signals: the workflow's validator refuses an action it would not carry
 * out (nothing waits for a retry, the order is already being cancelled or waits for a refund decision, a
 * decision was already taken), so the caller answers 409 instead of a 202 for an action that is ignored.
 */
export const retryUpdate = defineUpdate<void, [SupportAction]>('retry');
export const cancelAndRefundUpdate = defineUpdate<void, [SupportAction]>('cancelAndRefund');
/** Accepted only while the order waits for a refund decision and none was taken; answers the report it applies to. */
export const decideRefundUpdate = defineUpdate<UnwindReport, [RefundDecisionInput]>('decideRefund');
export const progressQuery = defineQuery<OrderProgress>('progress');
