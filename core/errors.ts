// One closed set of business errors, each with a stable problem type and an
// HTTP status. Handlers and services throw these; the API's one error handler
// turns them into RFC 9457 problem+json.

export const PROBLEM_BASE = 'https://cmp.dev/problems/';

export const problemTypes = {
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  'egress-refused': 403,
  'not-found': 404,
  'method-not-allowed': 405,
  conflict: 409,
  // Workspaces and their invitations (docs/teams.md).
  'last-owner': 409,
  'invitation-expired': 410,
  'invitation-revoked': 410,
  'invitation-used': 410,
  'invitation-wrong-email': 403,
  /** A version whose checks have not all passed cannot be published. */
  'version-checks-not-passed': 409,
  /** The artifact S3 holds no longer hashes to the version's sha256. */
  'artifact-integrity': 409,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'idempotency-key-reused': 422,
  /** An upload's bytes do not hash to the sha256 its sender computed (changed on the way). */
  'upload-hash-mismatch': 422,
  'insufficient-credits': 402,
  'rate-limited': 429,
  'upstream-unavailable': 502,
  'service-unavailable': 503,
  'upstream-timeout': 504,
  internal: 500,
} as const;

export type ProblemType = keyof typeof problemTypes;

export interface FieldError {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly type: ProblemType,
    readonly title: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = 'AppError';
    this.status = problemTypes[type];
  }
}

export const notFound = (what: string) => new AppError('not-found', 'Not found', `${what} was not found`);
export const conflict = (detail: string, extensions?: Record<string, unknown>) => new AppError('conflict', 'Conflict', detail, extensions);
export const forbidden = (detail = 'You may not do this') => new AppError('forbidden', 'Forbidden', detail);
export const unauthorized = (detail = 'Authentication required') => new AppError('unauthorized', 'Unauthorized', detail);
export const validation = (detail: string, errors: FieldError[] = []) => new AppError('validation', 'Invalid request', detail, { errors });

export class InsufficientCreditsError extends AppError {
  constructor(available: number, required: number) {
    super('insufficient-credits', 'Insufficient credits', `This needs ${required} millicredits; ${available} are available`, {
      available_mc: available,
      required_mc: required,
    });
  }
}
