// SecretStore over Vault's KV v2 engine through node-vault. node-vault only has
// generic read/write/delete, so the data/ and metadata/ paths are built here,
// and it rejects on every non-2xx (404 included), so its errors are sorted
// into "missing", "retry later" and "refused".
import nodeVault from 'node-vault';
import type { Logger } from '../logger';
import {
  assertSecretPath,
  SecretStoreRejectedError,
  SecretStoreUnavailableError,
  type Secret,
  type SecretMetadata,
  type SecretStore,
  type SecretVersion,
  type WriteOptions,
} from './secret-store';

export interface VaultSecretStoreOptions {
  /** Vault's address, e.g. https://vault.example:8200 */
  endpoint: string;
  token: string;
  /** The KV v2 mount, "secret" by default in Vault's dev mode. */
  mount: string;
  /** Per-request timeout; a hung Vault must not hang an activity past its own timeout. */
  timeoutMs?: number;
  logger?: Logger;
}

interface KvReadResponse {
  data: { data: Record<string, string> | null; metadata: { version: number; destroyed: boolean; deletion_time: string } };
}

interface KvWriteResponse {
  data: { version: number };
}

interface KvMetadataResponse {
  data: { current_version: number; updated_time: string };
}

export class VaultSecretStore implements SecretStore {
  private readonly client: nodeVault.client;
  private readonly mount: string;

  constructor(private readonly opts: VaultSecretStoreOptions) {
    if (!/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(opts.mount)) throw new Error(`Invalid KV mount ${JSON.stringify(opts.mount)}`);
    this.mount = opts.mount;
    this.client = nodeVault({
      endpoint: opts.endpoint,
      token: opts.token,
      apiVersion: 'v1',
      // node-vault's debug output prints request bodies, i.e. secret values: silence it for good.
      debug: () => undefined,
      requestOptions: { timeout: opts.timeoutMs ?? 10_000 },
    });
  }

  async write(path: string, data: Record<string, string>, opts: WriteOptions = {}): Promise<SecretVersion> {
    assertSecretPath(path);
    for (const [key, value] of Object.entries(data)) {
      if (typeof value !== 'string') throw new SecretStoreRejectedError('invalid-request', `Secret field ${JSON.stringify(key)} must be a string`);
    }
    const body = opts.cas === undefined ? { data } : { options: { cas: opts.cas }, data };
    const res = (await this.call('write', path, () => this.client.write(this.kvPath('data', path), body))) as KvWriteResponse;
    this.opts.logger?.debug({ path, version: res.data.version, fields: Object.keys(data) }, 'secret written');
    return { version: res.data.version };
  }

  async read(path: string): Promise<Secret | null> {
    assertSecretPath(path);
    const res = (await this.call('read', path, () => this.client.read(this.kvPath('data', path)), { notFound: null })) as KvReadResponse | null;
    // A soft-deleted or destroyed latest version has metadata but no data.
    if (!res?.data.data) return null;
    return { data: res.data.data, version: res.data.metadata.version };
  }

  async delete(path: string): Promise<void> {
    assertSecretPath(path);
    await this.call('delete', path, () => this.client.delete(this.kvPath('metadata', path)), { notFound: null });
    this.opts.logger?.debug({ path }, 'secret deleted');
  }

  async metadata(path: string): Promise<SecretMetadata | null> {
    assertSecretPath(path);
    const res = (await this.call('metadata', path, () => this.client.read(this.kvPath('metadata', path)), { notFound: null })) as KvMetadataResponse | null;
    if (!res) return null;
    return { currentVersion: res.data.current_version, updatedTime: res.data.updated_time };
  }

  private kvPath(kind: 'data' | 'metadata', path: string): string {
    return `${this.mount}/${kind}/${path}`;
  }

  private async call<T>(op: string, path: string, request: () => Promise<T>, on: { notFound?: null } = {}): Promise<T | null> {
    try {
      return await request();
    } catch (err) {
      const status = (err as { response?: { statusCode?: number } }).response?.statusCode;
      if (status === 404 && 'notFound' in on) return null;
      const error = classifyVaultError(err, op, path);
      // Vault's error texts never contain secret values; the request body is never logged.
      this.opts.logger?.warn({ op, path, status, retryable: error.retryable, err: error.message }, 'vault request failed');
      throw error;
    }
  }
}

/** Sorts a node-vault rejection into retryable (network, 5xx, 429) and refused (other 4xx). */
export function classifyVaultError(err: unknown, op: string, path: string): SecretStoreUnavailableError | SecretStoreRejectedError {
  const response = (err as { response?: { statusCode?: number; body?: { errors?: unknown[] } } }).response;
  const status = response?.statusCode;
  const first = response?.body?.errors?.[0];
  const vaultMessage = typeof first === 'string' ? first : undefined;
  if (status === undefined) {
    // No HTTP answer at all: refused connection, reset, timeout.
    const code = (err as { code?: string }).code;
    return new SecretStoreUnavailableError(`Vault ${op} ${path}: ${code ?? (err as Error).message ?? 'no response'}`);
  }
  const detail = `Vault ${op} ${path} answered ${status}${vaultMessage ? `: ${vaultMessage}` : ''}`;
  if (status >= 500 || status === 429) return new SecretStoreUnavailableError(detail, status);
  if (status === 403 || status === 401) return new SecretStoreRejectedError('permission-denied', detail, status);
  if (vaultMessage?.includes('check-and-set')) return new SecretStoreRejectedError('cas-mismatch', detail, status);
  return new SecretStoreRejectedError('invalid-request', detail, status);
}
