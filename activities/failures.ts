// Turns the errors of our clients into Temporal failures: a refusal that will
// not change by retrying (a 4xx, a hash mismatch, an unknown variant) becomes a
// non-retryable ApplicationFailure that keeps its type and details; everything
// else (network, 5xx, timeouts) is rethrown so the retry policy retries it.
import { ApplicationFailure } from '@temporalio/common';
import { AppError } from '../core/errors';

/** Error classes that mean "retrying will not help". */
export const PERMANENT_ERROR_TYPES = new Set([
  'SaleorRequestError',
  'SecretStoreRejectedError',
  'GitOpsRejectedError',
  'RuntimeRequestError',
  'ArtifactIntegrityError',
  'ArtifactNotFoundError',
  'UnknownVariantError',
  'OrderRejectedError',
]);

/** A business refusal raised by an activity itself. */
export class OrderRejectedError extends Error {
  constructor(message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'OrderRejectedError';
  }
}

function isPermanent(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if ((err as { retryable?: boolean }).retryable === false) return true;
  if (PERMANENT_ERROR_TYPES.has(err.name)) return true;
  if (err instanceof AppError) return err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
  return false;
}

export function toActivityFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure || !isPermanent(err)) return err;
  const e = err as Error & { type?: string; extensions?: Record<string, unknown>; details?: Record<string, unknown> };
  const type = e instanceof AppError ? (e.name === 'AppError' ? e.type : e.name) : e.name;
  return ApplicationFailure.create({
    message: e.message,
    type,
    nonRetryable: true,
    details: [{ ...(e.extensions ?? {}), ...(e.details ?? {}) }],
    cause: e,
  });
}

/** Wraps every activity of a factory's result so its failures are classified. */
export function classifyFailures<T extends Record<string, (...args: any[]) => Promise<any>>>(activities: T): T {
  const wrapped: Record<string, (...args: any[]) => Promise<any>> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: any[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toActivityFailure(err);
      }
    };
  }
  return wrapped as T;
}
