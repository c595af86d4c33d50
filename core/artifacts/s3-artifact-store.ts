// ArtifactStore on S3 (MinIO in production, SeaweedFS locally), AWS SDK v3 with
// path-style addressing and the SDK's default (flexible) checksums.
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { Config } from '../config';
import {
  ArtifactIntegrityError,
  ArtifactNotFoundError,
  ArtifactStoreUnavailableError,
  artifactKeyFor,
  sha256Hex,
  type ArtifactStore,
  type StoredArtifact,
} from './artifact-store';
import { ByteLruCache } from './lru-cache';

export interface S3ArtifactStoreOptions {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** Verified artifacts kept in memory, by sha256. Flows are tens of KB; 256 × ≤ 64 MB is plenty. */
  cacheEntries?: number;
  cacheBytes?: number;
  /** SDK attempts per call; the calling activity retries on top, so keep this small. */
  maxAttempts?: number;
  requestTimeoutMs?: number;
}

export function s3OptionsFromConfig(
  config: Pick<Config, 'S3_ENDPOINT' | 'S3_REGION' | 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY' | 'S3_ARTIFACT_BUCKET'>,
): S3ArtifactStoreOptions {
  return {
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
    bucket: config.S3_ARTIFACT_BUCKET,
  };
}

export class S3ArtifactStore implements ArtifactStore {
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly cache: ByteLruCache;
  // Concurrent runs of the same agent share one S3 read (single flight).
  private readonly inflight = new Map<string, Promise<Buffer>>();
  /** Reads that reached S3 (for tests and metrics). */
  s3Reads = 0;

  constructor(opts: S3ArtifactStoreOptions) {
    this.bucket = opts.bucket;
    this.cache = new ByteLruCache(opts.cacheEntries ?? 256, opts.cacheBytes ?? 64 * 1024 * 1024);
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
      forcePathStyle: true,
      maxAttempts: opts.maxAttempts ?? 2,
      requestHandler: { connectionTimeout: 2_000, requestTimeout: opts.requestTimeoutMs ?? 10_000 },
    });
  }

  async put(bytes: Buffer | string): Promise<StoredArtifact> {
    const body = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    const sha256 = sha256Hex(body);
    const key = artifactKeyFor(sha256);
    const stored = { key, sha256, size: body.length };
    if (await this.exists(key)) {
      this.cache.set(sha256, body);
      return stored;
    }
    await this.s3(`put ${key}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          ContentLength: body.length,
          Metadata: { sha256 },
        }),
      ),
    );
    this.cache.set(sha256, body);
    return stored;
  }

  async getVerified(key: string, expectedSha256: string, opts: { fromStore?: boolean } = {}): Promise<Buffer> {
    const wanted = expectedSha256.toLowerCase();
    if (opts.fromStore) return this.fetchAndVerify(key, wanted);
    const cached = this.cache.get(wanted);
    if (cached) return cached;
    const flightKey = `${key}\n${wanted}`;
    let flight = this.inflight.get(flightKey);
    if (!flight) {
      flight = this.fetchAndVerify(key, wanted).finally(() => this.inflight.delete(flightKey));
      this.inflight.set(flightKey, flight);
    }
    return flight;
  }

  /** Whether the in-process cache holds this artifact (for tests and metrics). */
  isCached(sha256: string): boolean {
    return this.cache.get(sha256.toLowerCase()) !== undefined;
  }

  close(): void {
    this.client.destroy();
  }

  private async fetchAndVerify(key: string, wanted: string): Promise<Buffer> {
    this.s3Reads += 1;
    const bytes = await this.s3(`get ${key}`, async () => {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    });
    const actual = sha256Hex(bytes);
    if (actual !== wanted) throw new ArtifactIntegrityError(key, wanted, actual);
    this.cache.set(wanted, bytes);
    return bytes;
  }

  private async exists(key: string): Promise<boolean> {
    try {
      await this.s3(`head ${key}`, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })));
      return true;
    } catch (err) {
      if (err instanceof ArtifactNotFoundError) return false;
      throw err;
    }
  }

  /** Maps SDK failures onto the artifact errors: missing key is permanent, everything else retryable. */
  private async s3<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const name = (err as Error).name;
      if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) throw new ArtifactNotFoundError(what.split(' ')[1]!);
      if (err instanceof S3ServiceException && status && status < 500 && status !== 429 && status !== 408) {
        // Credentials or bucket misconfigured: an operator must fix it, but it is not the artifact's fault either.
        throw new ArtifactStoreUnavailableError(`S3 ${what} failed with HTTP ${status}: ${name}`);
      }
      const code = (err as NodeJS.ErrnoException).code;
      throw new ArtifactStoreUnavailableError(`S3 ${what} failed: ${code ?? name}: ${(err as Error).message}`);
    }
  }
}
