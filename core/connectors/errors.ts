// The connector gateway's refusals and upstream failures. Each keeps a stable
// problem type, says whether a retry can help (activities/failures.ts reads
// `retryable`), and never carries a secret or a request/response body.
import { AppError } from '../errors';

/** Why the egress guard refused a request (the refusal metric's label values, each exported from the start). */
export const EGRESS_REFUSALS = ['scheme', 'host-mismatch', 'private-address', 'dns-failure', 'too-many-redirects', 'redirect-to-other-host'] as const;
export type EgressRefusal = (typeof EGRESS_REFUSALS)[number];

/** The egress guard refused to send the request: never retried. */
export class EgressRefusedError extends AppError {
  readonly retryable = false;
  constructor(readonly reason: EgressRefusal, detail: string, extensions: Record<string, unknown> = {}) {
    super('egress-refused', 'Egress refused', detail, { reason, ...extensions });
    this.name = 'EgressRefusedError';
  }
}

/** The tool could not be reached, timed out or answered 5xx/429: a retry may help (idempotent operations only). */
export class ToolUnavailableError extends AppError {
  readonly retryable = true;
  constructor(detail: string, readonly upstreamStatus?: number) {
    super('upstream-unavailable', 'Tool unavailable', detail, upstreamStatus ? { upstream_status: upstreamStatus } : {});
    this.name = 'ToolUnavailableError';
  }
}

export class ToolTimeoutError extends AppError {
  readonly retryable = true;
  constructor(detail: string) {
    super('upstream-timeout', 'Tool timed out', detail);
    this.name = 'ToolTimeoutError';
  }
}

/** The tool refused the request (4xx), answered too much, or spoke nonsense: retrying cannot help. */
export class ToolRejectedError extends AppError {
  readonly retryable = false;
  constructor(detail: string, extensions: Record<string, unknown> = {}) {
    super('upstream-unavailable', 'Tool rejected the call', detail, extensions);
    this.name = 'ToolRejectedError';
  }
}

/** The binding does not exist for this token's org and instance, or the operation is not allowed. */
export class ConnectorRefusedError extends AppError {
  readonly retryable = false;
  constructor(kind: 'not-found' | 'forbidden', detail: string) {
    super(kind, kind === 'not-found' ? 'Not found' : 'Operation not allowed', detail);
    this.name = 'ConnectorRefusedError';
  }
}
