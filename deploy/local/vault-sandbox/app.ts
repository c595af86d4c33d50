// Vault sandbox: a LOCAL STAND-IN for HashiCorp Vault's KV v2 secrets engine,
// for the dev stack and the tests only (the machines here cannot run Vault).
// It answers the subset CMP uses with Vault's own request/response shapes and
// status codes, so the production client (node-vault) talks to it unchanged:
//   GET /v1/sys/health
//   POST|PUT|GET|DELETE /v1/<mount>/data/<path>     (write with cas, read ?version=, soft delete latest)
//   GET|DELETE /v1/<mount>/metadata/<path>          (metadata, ?list=true; delete = every version)
//   POST /_sandbox/faults {down}                     (tests: every KV call answers 503, as a sealed Vault)
// State is kept in one file, rewritten atomically after every change and
// encrypted (AES-256-GCM) when a key is given, so a restart loses nothing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../../../core/logger';

export interface VaultSandboxOptions {
  /** The one token the sandbox accepts in X-Vault-Token. */
  token: string;
  /** KV v2 mounts served, e.g. ["secret"]. */
  mounts: string[];
  /** File holding the state; created on first write. */
  stateFile: string;
  /** Encrypts the state file at rest when set (any string; SHA-256 makes the AES key). */
  encryptionKey?: string;
  logger?: Logger;
}

interface VersionRecord {
  data: Record<string, unknown> | null;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

interface SecretRecord {
  created_time: string;
  updated_time: string;
  current_version: number;
  oldest_version: number;
  versions: Record<string, VersionRecord>;
}

interface State {
  mounts: Record<string, Record<string, SecretRecord>>;
}

const CAS_MISMATCH = 'check-and-set parameter did not match the current version';

class VaultHttpError extends Error {
  constructor(readonly status: number, readonly errors: string[], readonly extra: Record<string, unknown> = {}) {
    super(errors[0] ?? `status ${status}`);
  }
}

export interface VaultSandbox {
  app: express.Express;
  /** Fault injection, also reachable over HTTP at /_sandbox/faults. */
  setDown(down: boolean): void;
}

export function createVaultSandbox(opts: VaultSandboxOptions): VaultSandbox {
  const store = new StateFile(opts.stateFile, opts.encryptionKey);
  const state = store.load();
  for (const mount of opts.mounts) state.mounts[mount] ??= {};
  let down = false;
  const app = express();
  app.disable('x-powered-by');
  // Vault parses any request body as JSON, whatever its content type.
  app.use(express.json({ type: () => true, limit: '1mb' }));

  app.use((req, res, next) => {
    res.on('finish', () => opts.logger?.debug({ method: req.method, path: req.path, status: res.statusCode }, 'vault sandbox request'));
    next();
  });

  app.post('/_sandbox/faults', (req, res) => {
    down = Boolean((req.body as { down?: unknown } | undefined)?.down);
    opts.logger?.info({ down }, 'vault sandbox fault injection');
    res.json({ down });
  });

  app.get('/v1/sys/health', (_req, res) => {
    // Vault answers 503 while sealed; "down" is our sealed state.
    res.status(down ? 503 : 200).json({
      initialized: true,
      sealed: down,
      standby: false,
      performance_standby: false,
      replication_performance_mode: 'disabled',
      replication_dr_mode: 'disabled',
      server_time_utc: Math.floor(Date.now() / 1000),
      version: '0.0.0-cmp-sandbox',
      cluster_name: 'cmp-vault-sandbox',
      cluster_id: 'cmp-vault-sandbox',
    });
  });

  app.use('/v1', (req, res) => {
    if (down) throw new VaultHttpError(503, ['Vault is sealed']);
    if (req.get('x-vault-token') !== opts.token) throw new VaultHttpError(403, ['permission denied']);
    const route = parseKvRoute(req.path, opts.mounts);
    const secrets = state.mounts[route.mount]!;
    const method = req.method.toUpperCase();
    if (route.kind === 'data') {
      if (method === 'POST' || method === 'PUT') {
        const version = writeVersion(secrets, route.path, req.body);
        store.save(state);
        return res.json(envelope(version));
      }
      if (method === 'GET') return res.json(envelope(readVersion(secrets, route.path, req.query.version)));
      if (method === 'DELETE') {
        softDeleteLatest(secrets, route.path);
        store.save(state);
        return res.status(204).end();
      }
    } else {
      if (method === 'GET' && (req.query.list === 'true' || req.query.list === '1')) return res.json(envelope(listKeys(secrets, route.path)));
      if (method === 'GET') return res.json(envelope(metadataOf(secrets, route.path)));
      if (method === 'DELETE') {
        if (secrets[route.path]) {
          delete secrets[route.path];
          store.save(state);
        }
        return res.status(204).end();
      }
    }
    throw new VaultHttpError(405, ['unsupported operation']);
  });

  app.use((_req: Request, _res: Response) => {
    throw new VaultHttpError(404, []);
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof VaultHttpError) return res.status(err.status).json({ ...err.extra, errors: err.errors });
    if ((err as { type?: string }).type === 'entity.parse.failed') {
      return res.status(400).json({ errors: [`failed to parse JSON input: ${(err as Error).message}`] });
    }
    opts.logger?.error({ err }, 'vault sandbox failure');
    return res.status(500).json({ errors: ['internal error'] });
  });

  return {
    app,
    setDown(value: boolean) {
      down = value;
    },
  };
}

function parseKvRoute(requestPath: string, mounts: string[]): { mount: string; kind: 'data' | 'metadata'; path: string } {
  const clean = decodeURIComponent(requestPath).replace(/^\/+/, '');
  for (const mount of mounts) {
    for (const kind of ['data', 'metadata'] as const) {
      const prefix = `${mount}/${kind}/`;
      if (!clean.startsWith(prefix)) continue;
      const secretPath = clean.slice(prefix.length).replace(/\/+$/, '');
      if (secretPath.split('/').some((s) => s === '..' || s === '.')) throw new VaultHttpError(400, ['invalid path']);
      // A list call may target the mount's root (empty path).
      if (!secretPath && kind === 'data') throw new VaultHttpError(404, []);
      return { mount, kind, path: secretPath };
    }
  }
  throw new VaultHttpError(404, [`no handler for route "${clean}". route entry not found.`]);
}

function now(): string {
  return new Date().toISOString();
}

function writeVersion(secrets: Record<string, SecretRecord>, secretPath: string, body: unknown) {
  const { data, options } = (body ?? {}) as { data?: unknown; options?: { cas?: unknown } };
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new VaultHttpError(400, ['no data provided']);
  const existing = secrets[secretPath];
  const cas = options?.cas;
  if (cas !== undefined && cas !== null) {
    if (typeof cas !== 'number' || !Number.isInteger(cas)) throw new VaultHttpError(400, ['error parsing check-and-set parameter']);
    if (cas !== (existing?.current_version ?? 0)) throw new VaultHttpError(400, [CAS_MISMATCH]);
  }
  const time = now();
  const record: SecretRecord = existing ?? { created_time: time, updated_time: time, current_version: 0, oldest_version: 0, versions: {} };
  record.current_version += 1;
  record.updated_time = time;
  if (record.oldest_version === 0) record.oldest_version = 1;
  const version: VersionRecord = { data: data as Record<string, unknown>, created_time: time, deletion_time: '', destroyed: false };
  record.versions[String(record.current_version)] = version;
  secrets[secretPath] = record;
  return versionMetadata(record.current_version, version);
}

function versionMetadata(version: number, v: VersionRecord) {
  return { created_time: v.created_time, custom_metadata: null, deletion_time: v.deletion_time, destroyed: v.destroyed, version };
}

function readVersion(secrets: Record<string, SecretRecord>, secretPath: string, versionQuery: unknown) {
  const record = secrets[secretPath];
  if (!record) throw new VaultHttpError(404, []);
  const wanted = versionQuery === undefined || versionQuery === '0' ? record.current_version : Number(versionQuery);
  const version = record.versions[String(wanted)];
  if (!version) throw new VaultHttpError(404, []);
  const metadata = versionMetadata(wanted, version);
  if (version.data === null || version.deletion_time) {
    // Vault answers 404 for a deleted version but still shows its metadata.
    throw new VaultHttpError(404, [], { data: { data: null, metadata } });
  }
  return { data: version.data, metadata };
}

function softDeleteLatest(secrets: Record<string, SecretRecord>, secretPath: string): void {
  const record = secrets[secretPath];
  const latest = record?.versions[String(record.current_version)];
  if (latest && !latest.deletion_time) latest.deletion_time = now();
}

function metadataOf(secrets: Record<string, SecretRecord>, secretPath: string) {
  const record = secrets[secretPath];
  if (!record) throw new VaultHttpError(404, []);
  return {
    cas_required: false,
    created_time: record.created_time,
    current_version: record.current_version,
    custom_metadata: null,
    delete_version_after: '0s',
    max_versions: 0,
    oldest_version: record.oldest_version,
    updated_time: record.updated_time,
    versions: Object.fromEntries(
      Object.entries(record.versions).map(([n, v]) => [n, { created_time: v.created_time, deletion_time: v.deletion_time, destroyed: v.destroyed }]),
    ),
  };
}

function listKeys(secrets: Record<string, SecretRecord>, prefix: string) {
  const base = prefix ? `${prefix}/` : '';
  const keys = new Set<string>();
  for (const key of Object.keys(secrets)) {
    if (!key.startsWith(base)) continue;
    const rest = key.slice(base.length);
    const slash = rest.indexOf('/');
    keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  if (keys.size === 0) throw new VaultHttpError(404, []);
  return { keys: [...keys].sort() };
}

function envelope(data: unknown) {
  return {
    request_id: crypto.randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
    mount_type: 'kv',
  };
}

/** The state file: written to a temporary file, fsynced, then renamed over the old one. */
class StateFile {
  private readonly key?: Buffer;

  constructor(private readonly file: string, encryptionKey?: string) {
    if (encryptionKey) this.key = crypto.createHash('sha256').update(encryptionKey).digest();
  }

  load(): State {
    if (!fs.existsSync(this.file)) return { mounts: {} };
    const raw = fs.readFileSync(this.file, 'utf8');
    const parsed = JSON.parse(raw) as State | { sealed: { iv: string; tag: string; ciphertext: string } };
    if (!('sealed' in parsed)) {
      if (this.key) throw new Error(`${this.file} is not encrypted but an encryption key is set`);
      return parsed;
    }
    if (!this.key) throw new Error(`${this.file} is encrypted: set VAULT_SANDBOX_ENCRYPTION_KEY`);
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, Buffer.from(parsed.sealed.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(parsed.sealed.tag, 'base64'));
    const plain = Buffer.concat([decipher.update(Buffer.from(parsed.sealed.ciphertext, 'base64')), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as State;
  }

  save(state: State): void {
    const json = JSON.stringify(state);
    let content = json;
    if (this.key) {
      const iv = crypto.randomBytes(12);
      const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
      const ciphertext = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
      content = JSON.stringify({ sealed: { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ciphertext: ciphertext.toString('base64') } });
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeFileSync(fd, content);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
  }
}
