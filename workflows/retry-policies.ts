// The one table of retry policies and timeouts, per external system. Retryable
// failures (a system down, 5xx, timeouts) retry with backoff until the system
// is back; permanent ones are thrown non-retryable by the activities
// (activities/failures.ts) and handled by the workflow.
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

const forever = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' } as const;

export const activityOptions = {
  /** Saleor GraphQL: 18 s per call (Saleor's own response limit), retried until Saleor is back. */
  saleor: { startToCloseTimeout: '20s', retry: forever },
  /** PostgreSQL (our stores and the ledger): short calls. */
  database: { startToCloseTimeout: '10s', retry: { ...forever, initialInterval: '200ms', maximumInterval: '10s' } },
  /** S3/MinIO artifact reads with sha256 check. */
  s3: { startToCloseTimeout: '30s', retry: forever },
  /** Langflow: registering a flow and readiness probes. */
  runtime: { startToCloseTimeout: '30s', retry: forever },
  /** Vault KV v2. */
  vault: { startToCloseTimeout: '10s', retry: forever },
  /** GitOps commits (GitHub or the local repository); an optimistic-lock race retries inside the client. */
  git: { startToCloseTimeout: '60s', retry: forever },
} satisfies Record<string, ActivityOptions>;

/**
 * Short steps run as local activities: in the worker, recorded in the
 * workflow's history as markers, without a round trip through Temporal's task
 * queues (on the local dev server that round trip is ~60 ms a step, several
 * hundred under load). Our own database calls, and three reads: the order from
 * Saleor, an artifact check (usually from the worker's verified cache) and the
 * runtime's health probe.
 * Past a minute of retries the backoff runs on durable timers, so "retry until
 * the system is back" still holds. Steps that change an external system
 * (Saleor, Vault, Git, flow registration) stay regular activities, each
 * visible with its attempts in the Temporal UI.
 */
export const localActivityOptions = {
  saleor: { ...activityOptions.saleor, localRetryThreshold: '1m' },
  database: { ...activityOptions.database, localRetryThreshold: '1m' },
  s3: { ...activityOptions.s3, localRetryThreshold: '1m' },
  runtime: { ...activityOptions.runtime, localRetryThreshold: '1m' },
} satisfies Record<string, LocalActivityOptions>;
