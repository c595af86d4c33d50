// Secret paths and the sorting of Vault failures: what needs no running
// server (Vault's own wire shapes are checked against OpenBao in
// test/integration/vault-secret-store.test.ts).
import { describe, expect, it } from 'vitest';
import { assertSecretPath, classifyVaultError, instanceSecretPath, SecretStoreRejectedError, SecretStoreUnavailableError } from '../../core/secrets';

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
