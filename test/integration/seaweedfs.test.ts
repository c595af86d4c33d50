// SeaweedFS as the local S3 server: it refuses requests without the stack's
// credentials, binds loopback only on the ports the layout gives it, and keeps
// the artifacts across a restart (a private server, so other files never see
// it stop).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactStoreUnavailableError, S3ArtifactStore, s3OptionsFromConfig } from '../../core/artifacts';
import type { Service } from '../../deploy/local/processes';
import { startS3, testLayout, type StackLayout } from '../../deploy/local/stack';
import { listeningSockets } from '../support/listeners';
import { testConfig } from '../support/stack';

const config = testConfig();
const flow = () => Buffer.from(JSON.stringify({ data: { nodes: [], edges: [] }, nonce: randomBytes(8).toString('hex') }));

describe('the shared SeaweedFS', () => {
  it('refuses anonymous requests and wrongly signed ones', async () => {
    const anonymous = await fetch(`${config.S3_ENDPOINT}/${config.S3_ARTIFACT_BUCKET}/flows/anything.json`);
    expect(anonymous.status).toBe(403);
    const listing = await fetch(`${config.S3_ENDPOINT}/${config.S3_ARTIFACT_BUCKET}?list-type=2`);
    expect(listing.status).toBe(403);

    const stranger = new S3ArtifactStore({ ...s3OptionsFromConfig(config), secretAccessKey: 'not-the-secret', maxAttempts: 1 });
    const err = await stranger.put(flow()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactStoreUnavailableError);
    expect((err as Error).message).toMatch(/HTTP 403/);
    stranger.close();
  });
});

describe('a private SeaweedFS', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-seaweedfs-'));
  // The test slot's layout with SeaweedFS's ports moved 50 up: clear of the shared server and of the next slot.
  const base = testLayout();
  const layout: StackLayout = {
    ...base,
    dataDir,
    logDir: path.join(dataDir, 'logs'),
    ports: {
      ...base.ports,
      s3: base.ports.s3 + 50, s3Grpc: base.ports.s3Grpc + 50, s3Master: base.ports.s3Master + 50, s3MasterGrpc: base.ports.s3MasterGrpc + 50,
      s3Volume: base.ports.s3Volume + 50, s3VolumeGrpc: base.ports.s3VolumeGrpc + 50, s3Filer: base.ports.s3Filer + 50, s3FilerGrpc: base.ports.s3FilerGrpc + 50,
    },
  };
  const options = { ...s3OptionsFromConfig(config), endpoint: `http://127.0.0.1:${layout.ports.s3}` };
  let s3: Service | undefined;

  beforeAll(async () => {
    s3 = await startS3(layout);
  }, 120_000);
  afterAll(async () => {
    await s3?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("listens on 127.0.0.1 only, on the layout's ports", () => {
    const p = layout.ports;
    const expected = [p.s3, p.s3Grpc, p.s3Master, p.s3MasterGrpc, p.s3Volume, p.s3VolumeGrpc, p.s3Filer, p.s3FilerGrpc].map((port) => `127.0.0.1:${port}`).sort();
    expect(listeningSockets(s3!.child!.pid!)).toEqual(expected);
  });

  it('keeps artifacts across a restart, the bucket and the sha256 check intact', async () => {
    const bytes = flow();
    const writer = new S3ArtifactStore(options);
    const stored = await writer.put(bytes);
    writer.close();
    await s3!.stop();
    s3 = await startS3(layout);
    const reader = new S3ArtifactStore(options);
    expect((await reader.getVerified(stored.key, stored.sha256)).equals(bytes)).toBe(true);
    expect(reader.s3Reads).toBe(1);
    reader.close();
  });
});
