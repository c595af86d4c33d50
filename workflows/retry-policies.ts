// The one table of retry policies and timeouts, per external system. Retryable
// failures (a system down, 5xx, timeouts) retry with backoff until the system
// is back; permanent ones are thrown non-retryable by the activities
// (activities/failures.ts) and handled by the workflow.
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

const forever = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s' } as const;
/** PostgreSQL's policy, the base of every other one below that calls our database; each says why it differs. */
const database = { startToCloseTimeout: '10s', retry: { ...forever, initialInterval: '200ms', maximumInterval: '10s' } } as const;

export const activityOptions = {
  /** Saleor GraphQL: 18 s per call (Saleor's own response limit), retried until Saleor is back. */
  saleor: { startToCloseTimeout: '20s', retry: forever },
  /** PostgreSQL (our stores and the ledger): short calls. */
  database,
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

/**
 * The run path (runWithCreditHold): every step is a local activity, so a run is one workflow task.
 * The ledger retries quickly (a run's caller is waiting); recording the run may take longer.
 */
export const runActivityOptions = {
  ledger: { ...database, retry: { ...database.retry, initialInterval: '100ms', maximumInterval: '2s' } },
  recorder: database,
  /**
   * The agent runtime: its own deadline plus time to fetch a cold artifact and register its flow; one more
   * attempt after a hiccup, none after the runtime refused or timed out (the caller is waiting).
   */
  runtime: (timeoutMs: number) => ({
    startToCloseTimeout: timeoutMs + 15_000,
    retry: { maximumAttempts: 2, initialInterval: '200ms', nonRetryableErrorTypes: ['RuntimeTimeoutError', 'RuntimeRequestError', 'ArtifactIntegrityError'] },
  }),
} satisfies Record<string, LocalActivityOptions | ((timeoutMs: number) => LocalActivityOptions)>;

/** The connector gateway (connectorCall): every step after the hold shares what is left of the call's deadline. */
export const connectorActivityOptions = {
  /** Bounded (the call has a deadline and its caller waits): fewer, shorter waits than the saga's database policy. */
  database: { ...database, retry: { ...database.retry, maximumInterval: '5s', maximumAttempts: 10 } },
  /** Vault: retried while the secret store is down, but never past the call's deadline. */
  vault: (remainingMs: number) => ({
    startToCloseTimeout: '5s', scheduleToCloseTimeout: remainingMs,
    retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s' },
  }),
  /** The tool: a non-idempotent operation (creating a ticket) runs at most once, since a retry could do it twice. */
  tool: (toolTimeoutMs: number, remainingMs: number, idempotent: boolean) => ({
    startToCloseTimeout: toolTimeoutMs + 2_000, scheduleToCloseTimeout: remainingMs,
    retry: idempotent ? { maximumAttempts: 3, initialInterval: '300ms', backoffCoefficient: 2 } : { maximumAttempts: 1 },
  }),
} satisfies Record<string, ActivityOptions | ((...args: never[]) => ActivityOptions)>;

/**
 * Housekeeping: the database policy for batch work nobody waits on: a batch may take minutes, retries back off
 * slower, and give up after ten (the next scheduled run starts over; the work is idempotent).
 */
export const housekeepingActivityOptions = {
  ...database,
  startToCloseTimeout: '2 minutes',
  retry: { ...database.retry, initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
} satisfies ActivityOptions;
