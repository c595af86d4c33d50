// The flow-artifact port: content-addressed blobs (a flow export is stored
// under its own SHA-256), read back only after the hash has been checked.
import { createHash } from 'node:crypto';
import { AppError } from '../errors';

export interface StoredArtifact {
  key: string;
  sha256: string;
  size: number;
}

export interface ArtifactStore {
  /** Stores bytes under a key derived from their SHA-256; storing the same bytes twice is a no-op. */
  put(bytes: Buffer | string): Promise<StoredArtifact>;
  /**
   * Reads an artifact and checks its SHA-256; served from the in-process cache after the first read, unless
   * `fromStore` asks for the stored bytes themselves (publishing re-checks what S3 holds now).
   */
  getVerified(key: string, expectedSha256: string, opts?: { fromStore?: boolean }): Promise<Buffer>;
}

export const sha256Hex = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

/** Flow artifacts live under flows/<sha256>.json. */
export const artifactKeyFor = (sha256: string): string => `flows/${sha256}.json`;

/** The stored bytes are not the published ones (tampered, corrupted, wrong key). Retrying cannot fix it. */
export class ArtifactIntegrityError extends AppError {
  readonly retryable = false;
  constructor(
    readonly key: string,
    readonly expectedSha256: string,
    readonly actualSha256: string,
  ) {
    super('conflict', 'Artifact integrity check failed', `Artifact ${key} has sha256 ${actualSha256}, expected ${expectedSha256}`, {
      key,
      expected_sha256: expectedSha256,
      actual_sha256: actualSha256,
    });
    this.name = 'ArtifactIntegrityError';
  }
}

/** No object under that key. Permanent for this version: the version's artifact key is wrong or was deleted. */
export class ArtifactNotFoundError extends AppError {
  readonly retryable = false;
  constructor(readonly key: string) {
    super('not-found', 'Artifact not found', `Artifact ${key} does not exist in the artifact store`, { key });
    this.name = 'ArtifactNotFoundError';
  }
}

/** The store could not be reached or failed (network, 5xx, throttling): retry with backoff. */
export class ArtifactStoreUnavailableError extends AppError {
  readonly retryable = true;
  constructor(detail: string) {
    super('upstream-unavailable', 'Artifact store unavailable', detail);
    this.name = 'ArtifactStoreUnavailableError';
  }
}

/** Error class names a Temporal retry policy should not retry. */
export const NON_RETRYABLE_ARTIFACT_ERRORS = ['ArtifactIntegrityError', 'ArtifactNotFoundError'] as const;
