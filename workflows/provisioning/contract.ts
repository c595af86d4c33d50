// The provisioning context's contract: task queue, workflow ids, signals,
// queries and status values. The API, the store, the support console and the
// workers import these instead of repeating strings.
import { defineQuery, defineSignal } from '@temporalio/workflow';

export const PROVISIONING_TASK_QUEUE = 'provisioning';

/** Business-keyed ids: a duplicate webhook or a retried call lands on the same workflow. */
export const orderWorkflowId = (orderId: string) => `order-${orderId}`;
export const deprovisionWorkflowId = (instanceId: string) => `deprovision-${instanceId}`;
export const catalogSyncWorkflowId = (offeringId: string) => `catalog-sync-${offeringId}`;
export const SWEEP_SCHEDULE_ID = 'sweep-paid-orders';

export type OrderStatus = 'received' | 'provisioning' | 'needs_attention' | 'fulfilled' | 'cancelling' | 'cancelled' | 'failed';

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
}

/** A paid order comes from Saleor; a free subscription carries its line itself. */
export type OrderInput =
  | { kind: 'paid'; orderId: string }
  | { kind: 'free'; orderId: string; orgId: string; userId: string; planId: string; instanceId: string };

export interface SupportAction {
  actor: string;
  reason: string;
}

export const retrySignal = defineSignal<[SupportAction]>('retry');
export const cancelAndRefundSignal = defineSignal<[SupportAction]>('cancelAndRefund');
export const progressQuery = defineQuery<OrderProgress>('progress');
