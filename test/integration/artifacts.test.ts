// The S3 artifact store against the test stack's SeaweedFS.
import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ArtifactIntegrityError,
  ArtifactNotFoundError,
  ArtifactStoreUnavailableError,
  S3ArtifactStore,
  s3OptionsFromConfig,
  sha256Hex,
} from '../../core/artifacts';
import { loadLaunchAgent } from '../../deploy/local/agents';
import { testConfig } from '../support/stack';

const store = new S3ArtifactStore(s3OptionsFromConfig(testConfig()));
afterAll(() => store.close());

const uniqueFlow = () => Buffer.from(JSON.stringify({ data: { nodes: [], edges: [] }, nonce: randomBytes(8).toString('hex') }));

describe('S3ArtifactStore', () => {
  it('stores a flow under its sha256 and reads back the exact bytes', async () => {
    const { flowBytes } = loadLaunchAgent('ticket-triage');
    const stored = await store.put(flowBytes);
    expect(stored).toEqual({ key: `flows/${sha256Hex(flowBytes)}.json`, sha256: sha256Hex(flowBytes), size: flowBytes.length });
    const fresh = new S3ArtifactStore(s3OptionsFromConfig(testConfig()));
    const bytes = await fresh.getVerified(stored.key, stored.sha256);
    expect(bytes.equals(flowBytes)).toBe(true);
    fresh.close();
  });

  it('is idempotent: putting the same bytes twice gives the same key', async () => {
    const bytes = uniqueFlow();
    const a = await store.put(bytes);
    const b = await store.put(Buffer.from(bytes));
    expect(b).toEqual(a);
  });

  it('serves repeated reads from the in-process cache, one S3 read for concurrent first reads', async () => {
    const bytes = uniqueFlow();
    const writer = new S3ArtifactStore(s3OptionsFromConfig(testConfig()));
    const { key, sha256 } = await writer.put(bytes);
    writer.close();
    const reader = new S3ArtifactStore(s3OptionsFromConfig(testConfig()));
    expect(reader.isCached(sha256)).toBe(false);
    const results = await Promise.all(Array.from({ length: 5 }, () => reader.getVerified(key, sha256)));
    expect(results.every((r) => r.equals(bytes))).toBe(true);
    await reader.getVerified(key, sha256.toUpperCase());
    expect(reader.s3Reads).toBe(1);
    reader.close();
  });

  it('refuses bytes whose sha256 does not match, with a non-retryable error', async () => {
    const bytes = uniqueFlow();
    const { key, sha256 } = await store.put(bytes);
    // Tamper with the stored object behind the store's back.
    await store.client.send(new PutObjectCommand({ Bucket: testConfig().S3_ARTIFACT_BUCKET, Key: key, Body: Buffer.from('{"tampered":true}') }));
    const reader = new S3ArtifactStore(s3OptionsFromConfig(testConfig()));
    const err = await reader.getVerified(key, sha256).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactIntegrityError);
    expect(err).toMatchObject({ retryable: false, expectedSha256: sha256, actualSha256: sha256Hex('{"tampered":true}') });
    expect(reader.isCached(sha256)).toBe(false);
    // The wrong expected hash for intact bytes fails the same way.
    const other = await store.put(uniqueFlow());
    await expect(reader.getVerified(other.key, sha256)).rejects.toBeInstanceOf(ArtifactIntegrityError);
    reader.close();
  });

  it('reports a missing artifact as not found (permanent)', async () => {
    const err = await store.getVerified(`flows/${'0'.repeat(64)}.json`, '0'.repeat(64)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactNotFoundError);
    expect((err as ArtifactNotFoundError).retryable).toBe(false);
  });

  it('reports an unreachable S3 as retryable', async () => {
    const down = new S3ArtifactStore({ ...s3OptionsFromConfig(testConfig()), endpoint: 'http://127.0.0.1:9', maxAttempts: 1 });
    const err = await down.getVerified('flows/x.json', 'a'.repeat(64)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactStoreUnavailableError);
    expect((err as ArtifactStoreUnavailableError).retryable).toBe(true);
    await expect(down.put('{}')).rejects.toBeInstanceOf(ArtifactStoreUnavailableError);
    down.close();
  });
});
