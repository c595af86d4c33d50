// OpenBao, the open-source Vault, as the local stack's secret store: a real
// server with file storage in the layout's data folder, listening on loopback
// only. On its first start the stack initialises it (one key share) and keeps
// the unseal key and root token in <data>/openbao/dev-init.json — for
// development only: a production Vault is unsealed by its operators or by
// auto-unseal, and nobody's process holds its root token. Every later start
// unseals it with that key. The root token only sets the server up (KV v2 at
// the configured mount, the `cmp` policy, CMP's token); the API and the
// workers get a token limited to CMP's paths.
import fs from 'node:fs';
import path from 'node:path';
import { portOpen, sleep, startProcess, type Service } from './processes';
import { ensureOpenBao } from './tools';
import { DEV_VAULT_TOKEN, repoRoot, type StackLayout } from './stack';

export interface OpenBaoOptions {
  port?: number;
  /** Integrated storage's cluster port (bound to loopback too). */
  clusterPort?: number;
  /** Where the server keeps its storage, config and dev-init.json (default <layout data>/openbao). */
  dataDir?: string;
  name?: string;
  /** The KV v2 mount CMP uses (VAULT_KV_MOUNT). */
  mount?: string;
  /** The id of CMP's token (VAULT_TOKEN): created with the `cmp` policy only. */
  token?: string;
}

export interface OpenBaoService extends Service {
  /** CMP's policy-limited token, the one the API and workers use. */
  token: string;
  /** Development and tests only: what the stack keeps in dev-init.json. */
  rootToken: string;
  /** Seals the server (every request then answers 503 until `unseal`): a real outage, for tests. */
  seal(): Promise<void>;
  unseal(): Promise<void>;
}

export const CMP_POLICY = 'cmp';
/** Secret paths all start with cmp/ (core/secrets, core/connectors). */
const CMP_PREFIX = 'cmp';

/** The `cmp` policy: read and write CMP's secrets under <mount>/cmp/, nothing else (no sys/, no other paths, no listing). */
export function cmpPolicy(mount: string): string {
  return [
    `path "${mount}/data/${CMP_PREFIX}/*" {`,
    '  capabilities = ["create", "read", "update"]',
    '}',
    `path "${mount}/metadata/${CMP_PREFIX}/*" {`,
    '  capabilities = ["read", "delete"]',
    '}',
    '',
  ].join('\n');
}

interface DevInit {
  unsealKey: string;
  rootToken: string;
}

class BaoError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startOpenBao(layout: StackLayout, opts: OpenBaoOptions = {}): Promise<OpenBaoService> {
  const bin = ensureOpenBao(repoRoot);
  const port = opts.port ?? layout.ports.vault;
  const clusterPort = opts.clusterPort ?? layout.ports.vaultCluster;
  const dir = opts.dataDir ?? path.join(layout.dataDir, 'openbao');
  const mount = opts.mount ?? 'secret';
  const token = opts.token ?? DEV_VAULT_TOKEN;
  const url = `http://127.0.0.1:${port}`;
  fs.mkdirSync(path.join(dir, 'raft'), { recursive: true, mode: 0o700 });
  const configFile = path.join(dir, 'openbao.json');
  // OpenBao 2 has no `file` storage any more (nor mlock, nor `disable_mlock`): integrated storage (Raft) with one
  // node keeps everything in one folder. Its cluster port is bound to loopback like the API.
  // OpenBao sends nothing home (no usage reporting or update checks); no telemetry sink is configured.
  const config = {
    storage: { raft: { path: path.join(dir, 'raft'), node_id: 'cmp-local' } },
    listener: [{ tcp: { address: `127.0.0.1:${port}`, cluster_address: `127.0.0.1:${clusterPort}`, tls_disable: true } }],
    api_addr: url,
    cluster_addr: `http://127.0.0.1:${clusterPort}`,
    ui: false,
    log_level: 'warn',
  };
  fs.writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);

  const service = await startProcess({
    name: opts.name ?? 'openbao',
    command: bin,
    args: ['server', `-config=${configFile}`],
    // The server reads BAO_*/VAULT_* variables too; none of the caller's may leak in.
    env: { BAO_ADDR: undefined, BAO_TOKEN: undefined, VAULT_ADDR: undefined, VAULT_TOKEN: undefined },
    logDir: layout.logDir,
    url,
    // Any answer will do: sealed and uninitialised servers answer /sys/health with 503 and 501.
    ready: async () => (await portOpen(port)) && (await fetch(`${url}/v1/sys/health`, { signal: AbortSignal.timeout(2000) })).status > 0,
  });

  try {
    const bao = baoApi(url);
    const init = await initialiseOnce(bao, path.join(dir, 'dev-init.json'));
    const unseal = async () => {
      const status = await bao<{ sealed: boolean }>('GET', 'sys/seal-status');
      if (status.sealed) await bao('PUT', 'sys/unseal', { key: init.unsealKey });
      await waitUntilActive(url);
    };
    await unseal();
    await setUpForCmp(bao, init.rootToken, mount, token);
    return {
      ...service,
      token,
      rootToken: init.rootToken,
      seal: async () => {
        await bao('PUT', 'sys/seal', undefined, init.rootToken);
      },
      unseal,
    };
  } catch (err) {
    await service.stop();
    throw err;
  }
}

type BaoApi = <T = unknown>(method: string, route: string, body?: unknown, token?: string) => Promise<T>;

function baoApi(url: string): BaoApi {
  return async <T>(method: string, route: string, body?: unknown, token?: string): Promise<T> => {
    const res = await fetch(`${url}/v1/${route}`, {
      method,
      headers: { ...(token ? { 'X-Vault-Token': token } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      // Initialising integrated storage elects the single node first: allow it time on a busy machine.
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    if (!res.ok) throw new BaoError(res.status, `OpenBao ${method} /v1/${route} answered ${res.status}: ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : {}) as T;
  };
}

/** Initialises a new server once (one key share); afterwards the key and root token come from dev-init.json. */
async function initialiseOnce(bao: BaoApi, file: string): Promise<DevInit> {
  const { initialized } = await bao<{ initialized: boolean }>('GET', 'sys/init');
  if (!initialized) {
    const r = await bao<{ keys_base64: string[]; root_token: string }>('PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1 });
    const init: DevInit = { unsealKey: r.keys_base64[0]!, rootToken: r.root_token };
    fs.writeFileSync(file, `${JSON.stringify({ ...init, note: 'development only: the local OpenBao unseal key and root token' }, null, 2)}\n`, { mode: 0o600 });
    return init;
  }
  if (!fs.existsSync(file)) {
    throw new Error(`OpenBao in ${path.dirname(file)} is initialised but ${path.basename(file)} (its unseal key) is missing; start over with npm run dev -- --reset`);
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as DevInit;
}

/** After an unseal the server takes a moment to become active; /sys/health answers 200 only then. */
async function waitUntilActive(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${url}/v1/sys/health`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    if (res?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`OpenBao at ${url} did not become active within ${timeoutMs} ms (last /sys/health: ${res?.status ?? 'no answer'})`);
    await sleep(100);
  }
}

/** KV v2 at the mount, the `cmp` policy and CMP's token; each step is idempotent. */
async function setUpForCmp(bao: BaoApi, root: string, mount: string, token: string): Promise<void> {
  const mounts = await bao<{ data: Record<string, { type: string; options: { version?: string } | null }> }>('GET', 'sys/mounts', undefined, root);
  const existing = mounts.data[`${mount}/`];
  if (!existing) {
    await bao('POST', `sys/mounts/${mount}`, { type: 'kv', options: { version: '2' } }, root);
  } else if (existing.type !== 'kv' || existing.options?.version !== '2') {
    throw new Error(`OpenBao's mount ${mount}/ is ${existing.type} v${existing.options?.version ?? '1'}, not KV v2`);
  }
  // A new KV v2 mount answers only once its backend has finished setting up.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await bao('GET', `${mount}/config`, undefined, root);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
  await bao('PUT', `sys/policies/acl/${CMP_POLICY}`, { policy: cmpPolicy(mount) }, root);
  // CMP's token: periodic (renewed here on every start, so it lasts while the stack is used) and without a parent,
  // so it outlives nothing but its period. Created with a known id, so the processes' VAULT_TOKEN never changes.
  const found = await bao<{ data: { policies: string[] } }>('POST', 'auth/token/lookup', { token }, root).catch((err: unknown) => {
    if (err instanceof BaoError && (err.status === 403 || err.status === 400)) return undefined;
    throw err;
  });
  if (found && found.data.policies.includes(CMP_POLICY) && found.data.policies.every((p) => p === CMP_POLICY || p === 'default')) {
    await bao('POST', 'auth/token/renew', { token }, root);
    return;
  }
  if (found) await bao('POST', 'auth/token/revoke', { token }, root);
  await bao(
    'POST',
    'auth/token/create-orphan',
    { id: token, policies: [CMP_POLICY], no_default_policy: false, period: '768h', renewable: true, display_name: 'cmp-platform' },
    root,
  );
}
