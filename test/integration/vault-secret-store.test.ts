// VaultSecretStore (node-vault, KV v2) against OpenBao, the open-source Vault:
// the shared server the global setup starts (with CMP's policy-limited token),
// and a private one for the tests that seal it, restart it or use its root
// token (so other test files never see the fault).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLayout } from '../../deploy/local/stack';
import { startOpenBao, type OpenBaoService } from '../../deploy/local/openbao';
import {
  instanceSecretPath,
  SecretStoreRejectedError,
  SecretStoreUnavailableError,
  VaultSecretStore,
  createSecretStore,
  type SecretStore,
} from '../../core/secrets';
import { freePort, listeningSockets } from '../support/listeners';
import { testConfig } from '../support/stack';

const config = testConfig();
const store = createSecretStore(config);
const uniquePath = (name = 'api') => instanceSecretPath(`org-${crypto.randomUUID()}`, `inst-${crypto.randomUUID()}`, name);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

describe('VaultSecretStore against the shared OpenBao', () => {
  it('writes, reads and versions a secret', async () => {
    const p = uniquePath();
    expect(await store.write(p, { apiKey: 'k-1', region: 'eu' })).toEqual({ version: 1 });
    expect(await store.read(p)).toEqual({ data: { apiKey: 'k-1', region: 'eu' }, version: 1 });
    expect(await store.write(p, { apiKey: 'k-2' })).toEqual({ version: 2 });
    expect(await store.read(p)).toEqual({ data: { apiKey: 'k-2' }, version: 2 });
    const meta = await store.metadata(p);
    expect(meta?.currentVersion).toBe(2);
    expect(Date.parse(meta!.updatedTime)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('enforces check-and-set: 0 creates only, n updates only version n', async () => {
    const p = uniquePath();
    expect(await store.write(p, { a: '1' }, { cas: 0 })).toEqual({ version: 1 });
    const again = await rejection(store.write(p, { a: 'lost' }, { cas: 0 }));
    expect(again).toBeInstanceOf(SecretStoreRejectedError);
    expect(again).toMatchObject({ reason: 'cas-mismatch', retryable: false, upstreamStatus: 400, type: 'conflict' });
    expect(await store.write(p, { a: '2' }, { cas: 1 })).toEqual({ version: 2 });
    expect(await rejection(store.write(p, { a: 'stale' }, { cas: 1 }))).toMatchObject({ reason: 'cas-mismatch' });
    expect(await store.read(p)).toEqual({ data: { a: '2' }, version: 2 });
  });

  it('answers null for a missing secret and deletes idempotently', async () => {
    const p = uniquePath();
    expect(await store.read(p)).toBeNull();
    expect(await store.metadata(p)).toBeNull();
    await store.delete(p);

    await store.write(p, { a: '1' });
    await store.write(p, { a: '2' });
    await store.delete(p);
    expect(await store.read(p)).toBeNull();
    expect(await store.metadata(p)).toBeNull();
    await store.delete(p);
    // Every version went with the metadata: the next write starts again at 1.
    expect(await store.write(p, { a: '3' })).toEqual({ version: 1 });
  });

  it('refuses a wrong or missing token as a non-retryable error', async () => {
    for (const token of ['not-the-token', '']) {
      const intruder = new VaultSecretStore({ endpoint: config.VAULT_ADDR, token, mount: config.VAULT_KV_MOUNT });
      const err = await rejection(intruder.read(uniquePath()));
      expect(err).toBeInstanceOf(SecretStoreRejectedError);
      expect(err).toMatchObject({ reason: 'permission-denied', retryable: false, upstreamStatus: 403 });
    }
  });

  it('rejects unsafe paths before sending anything', async () => {
    for (const bad of ['../cmp/x', '/cmp/x', 'cmp//x', 'cmp/x/..', 'cmp/x y', '']) {
      expect(await rejection(store.write(bad, { a: '1' }))).toMatchObject({ name: 'SecretStoreRejectedError', reason: 'invalid-path' });
    }
    expect(() => instanceSecretPath('org/..', 'i')).toThrow(SecretStoreRejectedError);
  });

  it('speaks Vault KV v2 wire shapes', async () => {
    const p = uniquePath();
    const url = (kind: string) => `${config.VAULT_ADDR}/v1/${config.VAULT_KV_MOUNT}/${kind}/${p}`;
    const headers = { 'X-Vault-Token': config.VAULT_TOKEN, 'Content-Type': 'application/json' };
    const noToken = await fetch(url('data'));
    expect(noToken.status).toBe(403);
    expect(await noToken.json()).toEqual({ errors: ['permission denied'] });
    const missing = await fetch(url('data'), { headers });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ errors: [] });
    const written = await fetch(url('data'), { method: 'POST', headers, body: JSON.stringify({ options: { cas: 0 }, data: { k: 'v' } }) });
    expect(written.status).toBe(200);
    expect((await written.json()) as unknown).toMatchObject({ data: { version: 1, destroyed: false, deletion_time: '' } });
    const conflict = await fetch(url('data'), { method: 'POST', headers, body: JSON.stringify({ options: { cas: 0 }, data: { k: 'x' } }) });
    expect(conflict.status).toBe(400);
    expect(await conflict.json()).toEqual({ errors: ['check-and-set parameter did not match the current version'] });
    const read = (await (await fetch(url('data'), { headers })).json()) as { data: { data: unknown; metadata: { version: number } } };
    expect(read.data).toMatchObject({ data: { k: 'v' }, metadata: { version: 1 } });
    const meta = (await (await fetch(url('metadata'), { headers })).json()) as { data: Record<string, unknown> };
    expect(meta.data).toMatchObject({ current_version: 1, oldest_version: 0, versions: { '1': { destroyed: false, deletion_time: '' } } });
    expect((await fetch(url('metadata'), { method: 'DELETE', headers })).status).toBe(204);
    expect((await fetch(url('metadata'), { method: 'DELETE', headers })).status).toBe(204);
  });
});

describe('VaultSecretStore against a private OpenBao (outages, restarts, the policy)', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-openbao-'));
  const token = 'private-openbao-token';
  let port = 0;
  let clusterPort = 0;
  let bao: OpenBaoService | undefined;
  let privateStore: SecretStore;

  const startBao = async () => {
    bao = await startOpenBao(testLayout(), { port, clusterPort, dataDir, token, name: `openbao-private-${port}` });
  };

  beforeAll(async () => {
    port = await freePort();
    clusterPort = await freePort();
    await startBao();
    privateStore = new VaultSecretStore({ endpoint: `http://127.0.0.1:${port}`, token, mount: 'secret', timeoutMs: 2000 });
  }, 120_000);
  afterAll(async () => {
    await bao?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 only: its API and its cluster port', () => {
    expect(listeningSockets(bao!.child!.pid!)).toEqual([`127.0.0.1:${port}`, `127.0.0.1:${clusterPort}`].sort());
  });

  it('fails with a retryable error while sealed, and a retry succeeds once it is unsealed', async () => {
    const p = uniquePath();
    await privateStore.write(p, { token: 'before' });
    await bao!.seal();
    try {
      // One call at a time: a rejection nobody awaits yet would count as unhandled.
      for (const call of [() => privateStore.read(p), () => privateStore.write(p, { token: 'x' }), () => privateStore.metadata(p), () => privateStore.delete(p)]) {
        const err = await rejection(call());
        expect(err).toBeInstanceOf(SecretStoreUnavailableError);
        expect(err).toMatchObject({ retryable: true, upstreamStatus: 503 });
      }
      expect((await fetch(`http://127.0.0.1:${port}/v1/sys/health`)).status).toBe(503);
    } finally {
      setTimeout(() => void bao!.unseal(), 300);
    }
    // What an activity's retry policy does: retry retryable errors, give up on others.
    let attempts = 0;
    const version = await retryRetryable(async () => {
      attempts++;
      return privateStore.write(p, { token: 'after' });
    });
    expect(attempts).toBeGreaterThan(1);
    expect(version).toEqual({ version: 2 });
    expect(await privateStore.read(p)).toEqual({ data: { token: 'after' }, version: 2 });
  });

  it('keeps every secret across a restart (unsealed again by the stack), encrypted at rest', async () => {
    const p = uniquePath();
    await privateStore.write(p, { password: 'correct-horse-battery' });
    await privateStore.write(p, { password: 'staple-2' });
    await bao!.stop();
    const onDisk = filesUnder(path.join(dataDir, 'raft')).map((f) => fs.readFileSync(f));
    expect(onDisk.length).toBeGreaterThan(0);
    for (const bytes of onDisk) {
      expect(bytes.includes('staple-2')).toBe(false);
      expect(bytes.includes('correct-horse-battery')).toBe(false);
    }

    // While it is stopped nothing answers: a network error, also retryable.
    expect(await rejection(privateStore.read(p))).toBeInstanceOf(SecretStoreUnavailableError);

    await startBao();
    expect(await privateStore.read(p)).toEqual({ data: { password: 'staple-2' }, version: 2 });
    expect((await privateStore.metadata(p))?.currentVersion).toBe(2);
  });

  it("CMP's token reaches CMP's secrets only: no other path, no sys/, no new tokens", async () => {
    const url = `http://127.0.0.1:${port}/v1`;
    const as = (t: string) => ({ 'X-Vault-Token': t, 'Content-Type': 'application/json' });
    const elsewhere = `${url}/secret/data/billing/${crypto.randomUUID()}`;
    expect((await fetch(elsewhere, { method: 'POST', headers: as(bao!.rootToken), body: JSON.stringify({ data: { card: '4242' } }) })).status).toBe(200);

    const outside = new VaultSecretStore({ endpoint: `http://127.0.0.1:${port}`, token, mount: 'secret' });
    const outsidePath = elsewhere.slice(`${url}/secret/data/`.length);
    for (const call of [() => outside.read(outsidePath), () => outside.write(outsidePath, { card: 'mine' }), () => outside.metadata(outsidePath), () => outside.delete(outsidePath)]) {
      expect(await rejection(call())).toMatchObject({ name: 'SecretStoreRejectedError', reason: 'permission-denied', upstreamStatus: 403 });
    }
    for (const [method, route, body] of [
      ['GET', 'sys/mounts'],
      ['GET', 'sys/policies/acl/cmp'],
      ['POST', 'auth/token/create', { policies: ['root'] }],
      ['POST', 'sys/mounts/other', { type: 'kv' }],
      ['LIST', 'secret/metadata/cmp'],
    ] as const) {
      const res = await fetch(`${url}/${route}`, { method, headers: as(token), body: body ? JSON.stringify(body) : undefined });
      expect([method, route, res.status]).toEqual([method, route, 403]);
    }
    const self = (await (await fetch(`${url}/auth/token/lookup-self`, { headers: as(token) })).json()) as { data: { policies: string[]; period: number } };
    expect(self.data.policies.sort()).toEqual(['cmp', 'default']);
    expect(self.data.period).toBeGreaterThan(0);
    // The secret outside CMP's paths is untouched.
    const kept = (await (await fetch(elsewhere, { headers: as(bao!.rootToken) })).json()) as { data: { data: unknown } };
    expect(kept.data.data).toEqual({ card: '4242' });
  });
});

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

async function retryRetryable<T>(fn: () => Promise<T>, attempts = 40, delayMs = 100): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err as { retryable?: boolean }).retryable || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
