// The secrets port: connector and instance secrets live in a KV v2 store
// (Vault in production, OpenBao locally). Callers see versions and
// check-and-set, never Vault's wire shapes.
import { AppError } from '../errors';

export interface SecretVersion {
  version: number;
}

export interface Secret {
  data: Record<string, string>;
  version: number;
}

export interface SecretMetadata {
  currentVersion: number;
  updatedTime: string;
}

export interface WriteOptions {
  /** Check-and-set: 0 = only if the secret does not exist yet; n = only if the current version is n. */
  cas?: number;
}

export interface SecretStore {
  write(path: string, data: Record<string, string>, opts?: WriteOptions): Promise<SecretVersion>;
  /** null when there is no such secret (a 404 is an answer, not a failure). */
  read(path: string): Promise<Secret | null>;
  /** Removes every version and the metadata; deleting a missing secret succeeds. */
  delete(path: string): Promise<void>;
  metadata(path: string): Promise<SecretMetadata | null>;
}

/**
 * The store could not be reached or answered 5xx (sealed, standby, overloaded):
 * the same call may succeed later, so activities retry it.
 */
export class SecretStoreUnavailableError extends AppError {
  readonly retryable = true;
  constructor(detail: string, readonly upstreamStatus?: number) {
    super('upstream-unavailable', 'Secret store unavailable', detail, upstreamStatus ? { upstream_status: upstreamStatus } : {});
    this.name = 'SecretStoreUnavailableError';
  }
}

export type SecretRejection = 'invalid-path' | 'permission-denied' | 'cas-mismatch' | 'invalid-request';

/**
 * The store refused the request (permission denied, check-and-set mismatch, bad
 * path): repeating it changes nothing, so it is not retried.
 */
export class SecretStoreRejectedError extends AppError {
  readonly retryable = false;
  constructor(readonly reason: SecretRejection, detail: string, readonly upstreamStatus?: number) {
    super(reason === 'cas-mismatch' ? 'conflict' : reason === 'invalid-path' ? 'validation' : 'internal', 'Secret store rejected the request', detail, {
      reason,
      ...(upstreamStatus ? { upstream_status: upstreamStatus } : {}),
    });
    this.name = 'SecretStoreRejectedError';
  }
}

const SEGMENT = /^[A-Za-z0-9_.@-]+$/;

/** Throws unless the path is relative, has no empty, "." or ".." segments and only safe characters. */
export function assertSecretPath(path: string): void {
  const problem =
    path.length === 0 ? 'is empty'
    : path.length > 512 ? 'is longer than 512 characters'
    : path.startsWith('/') ? 'starts with "/"'
    : path.split('/').some((s) => s === '..' || s === '.') ? 'contains "." or ".." segments'
    : path.split('/').some((s) => !SEGMENT.test(s)) ? 'has an empty segment or a character outside [A-Za-z0-9_.@-]'
    : undefined;
  if (problem) throw new SecretStoreRejectedError('invalid-path', `Secret path ${JSON.stringify(path)} ${problem}`);
}

/** Where an instance's secrets live: cmp/orgs/<orgId>/instances/<instanceId>[/<name>]. */
export function instanceSecretPath(orgId: string, instanceId: string, name?: string): string {
  const path = ['cmp', 'orgs', orgId, 'instances', instanceId, ...(name === undefined ? [] : [name])].join('/');
  assertSecretPath(path);
  return path;
}
