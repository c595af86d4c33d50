// Failure decoding for every workflow, in one place: what an activity's
// failure was (its type as the activity named it, its message and details),
// and whether it was a timeout (Temporal's own, or the cause of one).
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';

export interface DecodedFailure {
  /** The ApplicationFailure's type (an error class or a problem type), `Timeout`, or the error's name. */
  type: string;
  message: string;
  /** The first detail an activity attached (activities/failures.ts puts the error's extensions there). */
  details?: unknown;
  /** Temporal timed the activity out (start-to-close or schedule-to-close), directly or as the last attempt's cause. */
  timedOut: boolean;
}

export function decodeFailure(err: unknown): DecodedFailure {
  const failure = err instanceof ActivityFailure && err.cause ? err.cause : err;
  if (failure instanceof TimeoutFailure) return { type: 'Timeout', message: failure.message, timedOut: true };
  if (failure instanceof ApplicationFailure) {
    return {
      type: failure.type ?? 'ApplicationFailure', message: failure.message, timedOut: failure.cause instanceof TimeoutFailure,
      ...(failure.details?.[0] === undefined ? {} : { details: failure.details[0] }),
    };
  }
  const e = failure as Error | undefined;
  return { type: e?.name ?? 'Error', message: e?.message ?? String(failure), timedOut: false };
}
