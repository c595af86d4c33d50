// Secret paths, the sorting of Vault failures, and the Vault sandbox's wire
// shapes (in-process, with supertest): what needs no running stack.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createVaultSandbox } from '../../deploy/local/vault-sandbox/app';
import { assertSecretPath, classifyVaultError, instanceSecretPath, SecretStoreRejectedError, SecretStoreUnavailableError } from '../../core/secrets';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function sandbox(encryptionKey?: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-vault-unit-'));
  dirs.push(dir);
  const stateFile = path.join(dir, 'state.json');
  return { stateFile, ...createVaultSandbox({ token: 'root', mounts: ['secret'], stateFile, encryptionKey }) };
}

describe('secret paths', () => {
  it('accepts instance paths and refuses traversal, absolute and odd paths', () => {
    expect(instanceSecretPath('org-1', 'inst-2')).toBe('cmp/orgs/org-1/instances/inst-2');
    expect(instanceSecretPath('org-1', 'inst-2', 'openai')).toBe('cmp/orgs/org-1/instances/inst-2/openai');
    for (const bad of ['', '/cmp/x', '../x', 'cmp/../x', 'cmp/./x', 'cmp//x', 'cmp/x/', 'cmp/x y', 'cmp/x\n', 'cmp/ä']) {
      expect(() => assertSecretPath(bad), bad).toThrow(SecretStoreRejectedError);
    }
    expect(() => instanceSecretPath('..', 'i')).toThrow(/"\.\." segments/);
  });
});

describe('classifyVaultError', () => {
  const vaultError = (statusCode: number, errors: string[]) => Object.assign(new Error(errors[0] ?? `Status ${statusCode}`), { response: { statusCode, body: { errors } } });

  it('retries what may pass later and refuses what never will', () => {
    expect(classifyVaultError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'read', 'p')).toBeInstanceOf(SecretStoreUnavailableError);
    expect(classifyVaultError(vaultError(503, ['Vault is sealed']), 'read', 'p')).toMatchObject({ retryable: true, upstreamStatus: 503 });
    expect(classifyVaultError(vaultError(500, []), 'read', 'p')).toMatchObject({ retryable: true });
    expect(classifyVaultError(vaultError(429, []), 'read', 'p')).toMatchObject({ retryable: true });
    expect(classifyVaultError(vaultError(403, ['permission denied']), 'read', 'p')).toMatchObject({ retryable: false, reason: 'permission-denied' });
    expect(classifyVaultError(vaultError(400, ['check-and-set parameter did not match the current version']), 'write', 'p')).toMatchObject({
      retryable: false,
      reason: 'cas-mismatch',
      status: 409,
    });
    expect(classifyVaultError(vaultError(400, ['no data provided']), 'write', 'p')).toMatchObject({ retryable: false, reason: 'invalid-request' });
  });

  it('names the classes so a Temporal retry policy can list the non-retryable one', () => {
    expect(new SecretStoreRejectedError('cas-mismatch', 'x').name).toBe('SecretStoreRejectedError');
    expect(new SecretStoreUnavailableError('x').name).toBe('SecretStoreUnavailableError');
  });
});

describe('Vault sandbox wire shapes', () => {
  it('answers like Vault KV v2', async () => {
    const { app } = sandbox();
    const token = { 'X-Vault-Token': 'root' };
    expect((await request(app).get('/v1/sys/health')).body).toMatchObject({ initialized: true, sealed: false });
    const denied = await request(app).get('/v1/secret/data/a');
    expect([denied.status, denied.body]).toEqual([403, { errors: ['permission denied'] }]);
    const missing = await request(app).get('/v1/secret/data/a').set(token);
    expect([missing.status, missing.body]).toEqual([404, { errors: [] }]);
    const created = await request(app).post('/v1/secret/data/a/b').set(token).send({ options: { cas: 0 }, data: { k: 'v' } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ lease_id: '', renewable: false, data: { version: 1, destroyed: false, deletion_time: '', custom_metadata: null } });
    const conflict = await request(app).post('/v1/secret/data/a/b').set(token).send({ options: { cas: 0 }, data: { k: 'w' } });
    expect([conflict.status, conflict.body]).toEqual([400, { errors: ['check-and-set parameter did not match the current version'] }]);
    await request(app).put('/v1/secret/data/a/b').set(token).send({ data: { k: 'w' } }).expect(200);
    const read = await request(app).get('/v1/secret/data/a/b').set(token).expect(200);
    expect(read.body.data).toMatchObject({ data: { k: 'w' }, metadata: { version: 2 } });
    const old = await request(app).get('/v1/secret/data/a/b?version=1').set(token).expect(200);
    expect(old.body.data.data).toEqual({ k: 'v' });
    const meta = await request(app).get('/v1/secret/metadata/a/b').set(token).expect(200);
    expect(meta.body.data).toMatchObject({ current_version: 2, oldest_version: 1, max_versions: 0, cas_required: false });
    expect(Object.keys(meta.body.data.versions)).toEqual(['1', '2']);
    const list = await request(app).get('/v1/secret/metadata/a?list=true').set(token).expect(200);
    expect(list.body.data.keys).toEqual(['b']);
    // A soft delete hides the latest version; its metadata stays.
    await request(app).delete('/v1/secret/data/a/b').set(token).expect(204);
    const soft = await request(app).get('/v1/secret/data/a/b').set(token).expect(404);
    expect(soft.body.data.metadata.deletion_time).not.toBe('');
    await request(app).delete('/v1/secret/metadata/a/b').set(token).expect(204);
    await request(app).delete('/v1/secret/metadata/a/b').set(token).expect(204);
    await request(app).get('/v1/secret/metadata/a/b').set(token).expect(404);
    await request(app).get('/v1/other/data/a').set(token).expect(404);
    await request(app).post('/v1/secret/data/a').set(token).send({ nodata: true }).expect(400);
  });

  it('answers 503 for every KV call while down, and recovers', async () => {
    const { app } = sandbox();
    await request(app).post('/_sandbox/faults').send({ down: true }).expect(200);
    const sealed = await request(app).get('/v1/secret/data/a').set('X-Vault-Token', 'root');
    expect([sealed.status, sealed.body]).toEqual([503, { errors: ['Vault is sealed'] }]);
    await request(app).get('/v1/sys/health').expect(503);
    await request(app).post('/_sandbox/faults').send({ down: false }).expect(200);
    await request(app).get('/v1/secret/data/a').set('X-Vault-Token', 'root').expect(404);
  });

  it('keeps state across instances, encrypted when a key is set', async () => {
    const first = sandbox('key-1');
    await request(first.app).post('/v1/secret/data/x').set('X-Vault-Token', 'root').send({ data: { password: 'hunter2' } }).expect(200);
    const onDisk = fs.readFileSync(first.stateFile, 'utf8');
    expect(onDisk).not.toContain('hunter2');
    const again = createVaultSandbox({ token: 'root', mounts: ['secret'], stateFile: first.stateFile, encryptionKey: 'key-1' });
    const read = await request(again.app).get('/v1/secret/data/x').set('X-Vault-Token', 'root').expect(200);
    expect(read.body.data.data).toEqual({ password: 'hunter2' });
    expect(() => createVaultSandbox({ token: 'root', mounts: ['secret'], stateFile: first.stateFile, encryptionKey: 'wrong' })).toThrow();
  });
});
