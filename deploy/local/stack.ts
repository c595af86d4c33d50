// The local stack: each service with its port, data folder, log file and
// health check. `npm run dev` starts all of it on the dev layout; the tests and
// benchmarks start the parts they need on the test layout (other ports, a
// throw-away data folder), so both can run at once.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { configObject, loadConfig } from '../../core/config';
import { httpOk, portOpen, startProcess, type Service } from './processes';
import { ensureKeycloak, ensureKeycloakJava, ensureLangflow, ensurePostgres, ensureSeaweedFS, ensureTemporal } from './tools';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const SEARCH_ATTRIBUTES = {
  CmpOrderId: 'Keyword',
  CmpOrgId: 'Keyword',
  CmpInstanceId: 'Keyword',
  CmpStatus: 'Keyword',
} as const;

export interface StackLayout {
  name: 'dev' | 'test';
  dataDir: string;
  logDir: string;
  ports: {
    postgres: number;
    temporal: number;
    temporalUi: number;
    /** SeaweedFS: the S3 gateway, and its master, volume and filer servers (HTTP and gRPC each). */
    s3: number;
    s3Grpc: number;
    s3Master: number;
    s3MasterGrpc: number;
    s3Volume: number;
    s3VolumeGrpc: number;
    s3Filer: number;
    s3FilerGrpc: number;
    keycloak: number;
    /** Keycloak's management interface (health). */
    keycloakManagement: number;
    langflow: number;
    saleor: number;
    /** OpenBao's API, and its cluster port (integrated storage), next to it. */
    vault: number;
    vaultCluster: number;
    api: number;
    /** The API's private metrics port (API_METRICS_PORT). */
    apiMetrics: number;
    web: number;
    // Observability (deploy/local/observability.ts): worker i serves health on workerHealth + i, SDK metrics on workerSdkMetrics + i.
    prometheus: number;
    alertmanager: number;
    temporalMetrics: number;
    workerHealth: number;
    workerSdkMetrics: number;
  };
}

export function devLayout(): StackLayout {
  const dataDir = path.join(repoRoot, '.data');
  return {
    name: 'dev',
    dataDir,
    logDir: path.join(dataDir, 'logs'),
    ports: {
      postgres: 55432, temporal: 7233, temporalUi: 8233, keycloak: 4010, keycloakManagement: 4011, langflow: 7860, saleor: 4020, vault: 4030, vaultCluster: 4031, api: 4000, apiMetrics: 9400, web: 3000,
      s3: 4569, s3Master: 4571, s3Volume: 4572, s3Filer: 4573, s3MasterGrpc: 4581, s3VolumeGrpc: 4582, s3FilerGrpc: 4583, s3Grpc: 4584,
      prometheus: 9090, alertmanager: 9093, temporalMetrics: 9233, workerHealth: 9401, workerSdkMetrics: 9411,
    },
  };
}

/**
 * The test layout. CMP_TEST_SLOT (0-9) shifts every port and the data folder,
 * so several test runs (developers working in parallel) never collide.
 */
export function testLayout(slot = Number(process.env.CMP_TEST_SLOT ?? 0)): StackLayout {
  const dataDir = path.join(repoRoot, slot ? `.test-data-${slot}` : '.test-data');
  const o = slot * 100;
  return {
    name: 'test',
    dataDir,
    logDir: path.join(dataDir, 'logs'),
    // api, keycloak, saleor and vault sit 10 apart, so their slots step by 1000 (slot 1's keycloak must not be slot 2's api);
    // SeaweedFS's servers sit in 24501–24514 and step by 100. The worker families (base + worker index) end in 41–49
    // and 51–59, clear of the 1000-step family's …00–…31 (19411 + 600 was slot 6's keycloakManagement 20011); apiMetrics
    // ends in 40 for the same reason (19400 + 600 was slot 6's api).
    ports: {
      postgres: 56432 + o, temporal: 17233 + o, temporalUi: 18233 + o, keycloak: 14010 + 10 * o, keycloakManagement: 14011 + 10 * o,
      langflow: 17860 + o, saleor: 14020 + 10 * o, vault: 14030 + 10 * o, vaultCluster: 14031 + 10 * o, api: 14000 + 10 * o, apiMetrics: 19440 + o, web: 13000 + o,
      s3: 14569 + o, s3Master: 24501 + o, s3Volume: 24502 + o, s3Filer: 24503 + o, s3MasterGrpc: 24511 + o, s3VolumeGrpc: 24512 + o,
      s3FilerGrpc: 24513 + o, s3Grpc: 24514 + o,
      prometheus: 19090 + o, alertmanager: 19093 + o, temporalMetrics: 19233 + o, workerHealth: 19441 + o, workerSdkMetrics: 19451 + o,
    },
  };
}

// The local stack's secrets are core/config.ts's defaults, so a process started without them agrees with the stack.
const configDefaults = configObject.parse({});
const { LANGFLOW_API_KEY } = configDefaults;
/** The local S3 server's one identity (SeaweedFS refuses anonymous requests). */
export const S3_CREDENTIALS = { S3_ACCESS_KEY_ID: configDefaults.S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: configDefaults.S3_SECRET_ACCESS_KEY };
/** CMP's policy-limited OpenBao token in the local stack (deploy/local/openbao.ts creates it; never the root token). */
export const DEV_VAULT_TOKEN = configDefaults.VAULT_TOKEN;
/** The local Keycloak's master-realm administrator, created on the dev layout's first start. */
export const KEYCLOAK_DEV_ADMIN = { KC_BOOTSTRAP_ADMIN_USERNAME: 'admin', KC_BOOTSTRAP_ADMIN_PASSWORD: 'cmp-dev' };

/** The environment our own processes (api, workers, web) read, for a layout. */
export function stackEnv(layout: StackLayout): Record<string, string> {
  const p = layout.ports;
  return {
    NODE_ENV: layout.name === 'test' ? 'test' : 'development',
    DATABASE_URL: `postgres://cmp@127.0.0.1:${p.postgres}/cmp`,
    TEMPORAL_ADDRESS: `127.0.0.1:${p.temporal}`,
    TEMPORAL_UI_URL: `http://127.0.0.1:${p.temporalUi}`,
    API_PORT: String(p.api),
    API_PUBLIC_URL: `http://127.0.0.1:${p.api}`,
    WEB_ORIGIN: `http://127.0.0.1:${p.web}`,
    S3_ENDPOINT: `http://127.0.0.1:${p.s3}`,
    ...S3_CREDENTIALS,
    OIDC_ISSUER: keycloakIssuer(layout),
    LANGFLOW_URL: `http://127.0.0.1:${p.langflow}`,
    LANGFLOW_API_KEY,
    // The studio: Langflow's own UI, served by the dev stack's Langflow (not the tests').
    ...(layout.name === 'dev' ? { STUDIO_URL: `http://127.0.0.1:${p.langflow}` } : {}),
    SALEOR_API_URL: `http://127.0.0.1:${p.saleor}/graphql/`,
    VAULT_ADDR: `http://127.0.0.1:${p.vault}`,
    VAULT_TOKEN: DEV_VAULT_TOKEN,
    GITOPS_LOCAL_REPO: path.join(layout.dataDir, 'gitops.git'),
  };
}

const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');

// PostgreSQL refuses to run as root, so as root the cluster belongs to the
// Debian package's `postgres` user.
export function asPostgresUser(bin: string, args: string[]): { command: string; args: string[] } {
  return process.getuid?.() === 0 ? { command: 'runuser', args: ['-u', 'postgres', '--', bin, ...args] } : { command: bin, args };
}

const postgresSocketDir = (layout: StackLayout) => path.join(os.tmpdir(), `cmp-pg-${layout.ports.postgres}`);

/** The same database through the cluster's Unix socket, for a client on this machine. */
export const postgresSocketUrl = (layout: StackLayout, database = 'cmp') =>
  `postgres://cmp@${encodeURIComponent(postgresSocketDir(layout))}:${layout.ports.postgres}/${database}`;

export async function startPostgres(layout: StackLayout): Promise<Service> {
  const bin = ensurePostgres();
  const dir = path.join(layout.dataDir, 'postgres');
  const socketDir = postgresSocketDir(layout);
  fs.mkdirSync(socketDir, { recursive: true });
  if (process.getuid?.() === 0) {
    // The postgres user must be able to reach the data folder through the repository path.
    execFileSync('chown', ['postgres', socketDir]);
  }
  if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
    fs.mkdirSync(dir, { recursive: true });
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres', dir]);
    const init = asPostgresUser(path.join(bin, 'initdb'), ['-D', dir, '-U', 'cmp', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
    execFileSync(init.command, init.args, { stdio: 'ignore' });
  }
  const serverArgs = [
    '-D', dir, '-p', String(layout.ports.postgres), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1',
    '-c', 'max_connections=300', '-c', 'shared_buffers=256MB',
  ];
  const run = asPostgresUser(path.join(bin, 'postgres'), serverArgs);
  const service = await startProcess({
    name: 'postgres',
    command: run.command,
    args: run.args,
    logDir: layout.logDir,
    url: `postgres://cmp@127.0.0.1:${layout.ports.postgres}/cmp`,
    ready: async () => {
      if (!(await portOpen(layout.ports.postgres))) return false;
      const r = spawnQuiet(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(layout.ports.postgres)]);
      return r === 0;
    },
    stopSignal: 'SIGINT', // fast shutdown
  });
  await ensureDatabase(bin, layout.ports.postgres, 'cmp');
  return service;
}

function spawnQuiet(command: string, args: string[]): number {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return 0;
  } catch (err) {
    return (err as { status?: number }).status ?? 1;
  }
}

export async function ensureDatabase(bin: string, port: number, name: string): Promise<void> {
  const psql = path.join(bin, 'psql');
  const exists = execFileSync(psql, ['-h', '127.0.0.1', '-p', String(port), '-U', 'cmp', '-d', 'postgres', '-tAc', `select 1 from pg_database where datname='${name}'`], {
    encoding: 'utf8',
  }).trim();
  if (exists !== '1') {
    execFileSync(psql, ['-h', '127.0.0.1', '-p', String(port), '-U', 'cmp', '-d', 'postgres', '-c', `create database "${name}"`], { stdio: 'ignore' });
  }
}

/**
 * The dev server's dynamic config beyond the CLI's defaults. Each history shard reads its task queues (transfer: a
 * workflow's next workflow task; visibility; timers) at most `…MaxPollRPS` times a second, 20 by default: sized for a
 * cluster of hundreds of shards, where one shard sees little traffic. The dev server has one shard, so every run waits
 * for that shard's next read slot and a run cannot finish in less than 1/20 s. At 1000 an empty workflow takes 13 ms
 * instead of 50 at concurrency 1, with the same workflows/s at 16 (200 and 10000 measured alike; docs/benchmarks.md).
 * Reads still happen only when tasks are written.
 */
export const TEMPORAL_DYNAMIC_CONFIG: Readonly<Record<string, string>> = {
  // Update-with-Start (the run path's early return) needs both.
  'frontend.enableUpdateWorkflowExecution': 'true',
  'frontend.enableExecuteMultiOperation': 'true',
  // One task-queue partition: with a handful of pollers, tasks written to a partition nobody polls wait to be forwarded.
  'matching.numTaskqueueReadPartitions': '1',
  'matching.numTaskqueueWritePartitions': '1',
  'history.transferProcessorMaxPollRPS': '1000',
  'history.visibilityProcessorMaxPollRPS': '1000',
  'history.timerProcessorMaxPollRPS': '1000',
};

/** `dynamicConfig` overrides TEMPORAL_DYNAMIC_CONFIG key by key (bench:runs starts an earlier configuration beside it). */
export function temporalArgs(layout: StackLayout, opts: { inMemory?: boolean; dynamicConfig?: Record<string, string> } = {}): string[] {
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(layout.ports.temporal),
    '--ui-port', String(layout.ports.temporalUi),
    ...(opts.inMemory ? [] : [
      '--db-filename', path.join(layout.dataDir, 'temporal.db'),
      // WAL with synchronous=normal: no fsync per commit, yet nothing is lost when a process dies (only a power cut could
      // lose the last commits). Doubles the dev server's workflow throughput here (about 18 → 40 workflows/s).
      '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal',
    ]),
    '--log-level', 'warn',
    // Prometheus scrapes the server's own metrics here.
    '--metrics-port', String(layout.ports.temporalMetrics),
  ];
  for (const [key, value] of Object.entries({ ...TEMPORAL_DYNAMIC_CONFIG, ...opts.dynamicConfig })) args.push('--dynamic-config-value', `${key}=${value}`);
  for (const [key, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${key}=${type}`);
  return args;
}

/** The Temporal dev server; `inMemory` skips the SQLite file (benchmarks that need no durability across restarts). */
export async function startTemporal(layout: StackLayout, opts: { inMemory?: boolean } = {}): Promise<Service> {
  const bin = ensureTemporal(repoRoot);
  const address = `127.0.0.1:${layout.ports.temporal}`;
  return startProcess({
    name: 'temporal',
    command: bin,
    args: temporalArgs(layout, opts),
    logDir: layout.logDir,
    url: `http://127.0.0.1:${layout.ports.temporalUi}`,
    readyTimeoutMs: 60_000,
    ready: async () => (await portOpen(layout.ports.temporal)) && temporalReady(address),
  });
}

/** A Temporal server answers and has CMP's search attributes registered (the workflows set them). */
export async function temporalReady(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    await connection.workflowService.getSystemInfo({});
    const attrs = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    return Object.keys(SEARCH_ATTRIBUTES).every((k) => k in (attrs.customAttributes ?? {}));
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}

/**
 * SeaweedFS as the S3 server (`weed server`: master, volume, filer and S3
 * gateway in one process), every port from the layout and bound to loopback,
 * telemetry off, data in the layout's s3 folder. Requests need the one
 * identity's keys; the buckets are created before it counts as ready.
 */
export async function startS3(layout: StackLayout, buckets = ['cmp-artifacts']): Promise<Service> {
  const bin = ensureSeaweedFS(repoRoot);
  const p = layout.ports;
  const dir = path.join(layout.dataDir, 's3');
  fs.mkdirSync(dir, { recursive: true });
  const identities = path.join(layout.dataDir, 's3-identities.json');
  const identity = { name: 'cmp', credentials: [{ accessKey: S3_CREDENTIALS.S3_ACCESS_KEY_ID, secretKey: S3_CREDENTIALS.S3_SECRET_ACCESS_KEY }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] };
  fs.writeFileSync(identities, `${JSON.stringify({ identities: [identity] }, null, 2)}\n`, { mode: 0o600 });
  const args = [
    // Logs to stderr (our log file) rather than glog files in /tmp; no configuration files from $HOME or /etc.
    '-logtostderr', `-config_dir=${dir}`,
    'server', `-dir=${dir}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1',
    `-master.port=${p.s3Master}`, `-master.port.grpc=${p.s3MasterGrpc}`, '-master.telemetry=false',
    // The one master resumes its Raft state on a restart and waits a whole election timeout (10 s) before it leads.
    '-master.electionTimeout=1s',
    `-volume.port=${p.s3Volume}`, `-volume.port.grpc=${p.s3VolumeGrpc}`, '-volume.preStopSeconds=0',
    '-filer', `-filer.port=${p.s3Filer}`, `-filer.port.grpc=${p.s3FilerGrpc}`,
    '-s3', `-s3.port=${p.s3}`, `-s3.port.grpc=${p.s3Grpc}`, `-s3.config=${identities}`,
    // Only the S3 API: no Iceberg or Lance catalogs, no IAM API.
    '-s3.port.iceberg=0', '-s3.port.lance=0', '-s3.iam=false',
  ];
  const url = `http://127.0.0.1:${p.s3}`;
  const client = new S3Client({
    endpoint: url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 1,
    credentials: { accessKeyId: S3_CREDENTIALS.S3_ACCESS_KEY_ID, secretAccessKey: S3_CREDENTIALS.S3_SECRET_ACCESS_KEY },
  });
  try {
    return await startProcess({
      name: 's3',
      command: bin,
      args,
      logDir: layout.logDir,
      url,
      // Ready once each bucket exists (or has just been created) and an object can be written and read back: on a
      // restart the gateway and filer answer before the volume server has re-registered its volumes with the master,
      // and until then every read of a stored object fails with InternalError.
      ready: async () => {
        if (!(await portOpen(p.s3))) return false;
        for (const bucket of buckets) {
          const found = await client.send(new HeadBucketCommand({ Bucket: bucket })).then(() => true, () => false);
          if (!found) await client.send(new CreateBucketCommand({ Bucket: bucket }));
        }
        const probe = { Bucket: buckets[0], Key: '.cmp-readiness-probe' };
        await client.send(new PutObjectCommand({ ...probe, Body: 'ready' }));
        const read = await client.send(new GetObjectCommand(probe));
        const ok = (await read.Body?.transformToString()) === 'ready';
        await client.send(new DeleteObjectCommand(probe));
        return ok;
      },
    });
  } finally {
    client.destroy();
  }
}

export async function startLangflow(layout: StackLayout): Promise<Service> {
  const bin = ensureLangflow(repoRoot);
  const dir = path.join(layout.dataDir, 'langflow');
  fs.mkdirSync(dir, { recursive: true });
  return startProcess({
    name: 'langflow',
    command: bin,
    // npm run dev serves Langflow's UI too, as the studio publishers build flows in: the same process and the same
    // memory as backend-only (docs/publishing.md); the tests need no UI and keep it off.
    args: ['run', ...(layout.name === 'dev' ? [] : ['--backend-only']), '--host', '127.0.0.1', '--port', String(layout.ports.langflow), '--workers', '1', '--log-level', 'warning'],
    env: {
      LANGFLOW_CONFIG_DIR: dir,
      LANGFLOW_DATABASE_URL: `sqlite:///${path.join(dir, 'langflow.db')}`,
      LANGFLOW_API_KEY_SOURCE: 'env',
      LANGFLOW_API_KEY,
      LANGFLOW_AUTO_LOGIN: 'true',
      LANGFLOW_SKIP_AUTH_AUTO_LOGIN: 'true',
      LANGFLOW_DO_NOT_TRACK: 'true',
      DO_NOT_TRACK: 'true',
      LANGFLOW_LOAD_FLOWS_PATH: '',
      LANGFLOW_OPEN_BROWSER: 'false',
    },
    logDir: layout.logDir,
    url: `http://127.0.0.1:${layout.ports.langflow}`,
    readyTimeoutMs: 240_000,
    ready: () => httpOk(`http://127.0.0.1:${layout.ports.langflow}/health_check`),
  });
}

/** The GitOps target: a local bare repository with an initial commit on main. */
export function ensureGitopsRepo(layout: StackLayout): string {
  const repo = path.join(layout.dataDir, 'gitops.git');
  if (fs.existsSync(path.join(repo, 'HEAD'))) return repo;
  fs.mkdirSync(repo, { recursive: true });
  execFileSync('git', ['init', '--bare', '--quiet', '--initial-branch=main', repo]);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-gitops-'));
  const git = (...args: string[]) => execFileSync('git', ['-C', work, ...args], { stdio: 'ignore' });
  git('init', '--quiet', '--initial-branch=main');
  fs.writeFileSync(path.join(work, 'README.md'), '# CMP GitOps\n\nInstance manifests written by the provisioning workflow; ArgoCD syncs them.\n');
  git('add', '.');
  git('-c', 'user.name=CMP', '-c', 'user.email=gitops@cmp.local', 'commit', '--quiet', '-m', 'Initialise GitOps repository');
  git('push', '--quiet', repo, 'main');
  fs.rmSync(work, { recursive: true, force: true });
  return repo;
}

/** One of our own TypeScript services (api, workers, sandboxes), run by tsx. */
export async function startNodeService(
  layout: StackLayout,
  name: string,
  entry: string,
  opts: { url: string; ready: () => Promise<boolean>; env?: Record<string, string>; echo?: boolean; readyTimeoutMs?: number },
): Promise<Service> {
  return startProcess({
    name,
    command: tsx,
    args: [path.join(repoRoot, entry)],
    env: { ...stackEnv(layout), ...opts.env },
    cwd: repoRoot,
    logDir: layout.logDir,
    url: opts.url,
    ready: opts.ready,
    echo: opts.echo,
    readyTimeoutMs: opts.readyTimeoutMs,
  });
}

export const KEYCLOAK_REALM = 'cmp';
/** The realm file as production imports it; the local stack imports a copy patched by localRealm(). */
export const realmExportPath = path.join(repoRoot, 'deploy/keycloak/realm-export.json');
/** The README's logins (password cmp-dev, stored hashed: the realm's password policy refuses it in plain text). */
export const devUsersPath = path.join(repoRoot, 'deploy/local/keycloak-dev-users.json');

interface RealmClient { clientId: string; redirectUris?: string[]; webOrigins?: string[]; attributes?: Record<string, string> }

/**
 * The realm for a local layout: the production file with e-mail verification off (nothing here sends mail), the
 * store client's redirect and post-logout URIs replaced by this layout's own store (both loopback names), and the
 * seeded development users.
 */
export function localRealm(layout: StackLayout): Record<string, unknown> {
  const realm = JSON.parse(fs.readFileSync(realmExportPath, 'utf8')) as { clients: RealmClient[] } & Record<string, unknown>;
  const origins = [`http://127.0.0.1:${layout.ports.web}`, `http://localhost:${layout.ports.web}`];
  const clients = realm.clients.map((c) =>
    c.clientId === 'cmp-store'
      ? {
          ...c,
          redirectUris: origins.map((o) => `${o}/auth/callback`),
          attributes: { ...c.attributes, 'post.logout.redirect.uris': origins.map((o) => `${o}/`).join('##') },
        }
      : c,
  );
  return { ...realm, verifyEmail: false, clients, users: JSON.parse(fs.readFileSync(devUsersPath, 'utf8')) as unknown[] };
}
export const keycloakIssuer = (layout: StackLayout) => `http://127.0.0.1:${layout.ports.keycloak}/realms/${KEYCLOAK_REALM}`;

/**
 * Keycloak in development mode on loopback, with the realm imported from
 * localRealm(layout) on its first start (later starts skip a
 * realm that exists, so users who signed up stay). The distribution in .tools
 * is shared; each layout gets its own Keycloak home under its data folder
 * (links to the distribution plus its own data/: the H2 database and the
 * import folder), so dev and test instances never share state.
 */
export async function startKeycloak(layout: StackLayout): Promise<Service> {
  const dist = ensureKeycloak(repoRoot);
  const javaHome = ensureKeycloakJava();
  const home = path.join(layout.dataDir, 'keycloak');
  const importDir = path.join(home, 'data/import');
  fs.mkdirSync(importDir, { recursive: true });
  for (const dir of ['lib', 'providers', 'themes']) {
    const link = path.join(home, dir);
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(dist, dir), link);
  }
  fs.writeFileSync(path.join(importDir, 'cmp-realm.json'), `${JSON.stringify(localRealm(layout), null, 2)}\n`);
  const { OIDC_CLIENT_SECRET } = loadConfig({ ...process.env, ...stackEnv(layout) });
  const issuer = keycloakIssuer(layout);
  return startProcess({
    name: 'keycloak',
    command: path.join(dist, 'bin/kc.sh'),
    args: [
      'start-dev',
      // Later -D wins: the home (and so data/) is this layout's, the code is the shared distribution's.
      `-Dkc.home.dir=${home}`,
      '--import-realm',
      '--http-host=127.0.0.1',
      `--http-port=${layout.ports.keycloak}`,
      '--http-management-host=127.0.0.1',
      `--http-management-port=${layout.ports.keycloakManagement}`,
      '--hostname-strict=false',
      '--health-enabled=true',
      '--db=dev-file',
    ],
    env: {
      JAVA_HOME: javaHome,
      // Measured: about 400 MB resident after start with this heap; Keycloak's default is 70 % of RAM.
      JAVA_OPTS_KC_HEAP: '-Xms64m -Xmx512m',
      // Resolves the ${CMP_STORE_CLIENT_SECRET} placeholder of the realm file.
      CMP_STORE_CLIENT_SECRET: OIDC_CLIENT_SECRET,
      // The master realm's administrator, created on the first start: development only.
      ...(layout.name === 'dev' ? KEYCLOAK_DEV_ADMIN : {}),
    },
    logDir: layout.logDir,
    url: issuer,
    // A first start on a busy 2-core machine (build, then realm import) takes one to two minutes; four when eight sessions share it.
    readyTimeoutMs: 420_000,
    ready: () => httpOk(`${issuer}/.well-known/openid-configuration`),
  });
}

/**
 * The Saleor sandbox (deploy/local/saleor-sandbox): a local stand-in for
 * Saleor's GraphQL API, pay page and signed webhooks. Webhooks go to the
 * layout's API unless `webhookTargetUrl` says otherwise; tests may give their
 * own port and data folder to run a private one.
 */
export async function startSaleorSandbox(
  layout: StackLayout,
  opts: { port?: number; dataDir?: string; webhookTargetUrl?: string; retryBaseMs?: number; name?: string } = {},
): Promise<Service> {
  const port = opts.port ?? layout.ports.saleor;
  const url = `http://127.0.0.1:${port}`;
  return startNodeService(layout, opts.name ?? 'saleor-sandbox', 'deploy/local/saleor-sandbox/server.ts', {
    url,
    env: {
      SALEOR_SANDBOX_PORT: String(port),
      SALEOR_SANDBOX_DATA_DIR: opts.dataDir ?? path.join(layout.dataDir, 'saleor-sandbox'),
      SALEOR_SANDBOX_PUBLIC_URL: url,
      SALEOR_WEBHOOK_TARGET_URL: opts.webhookTargetUrl ?? `http://127.0.0.1:${layout.ports.api}/integrations/saleor/webhooks`,
      ...(opts.retryBaseMs ? { SALEOR_SANDBOX_RETRY_BASE_MS: String(opts.retryBaseMs) } : {}),
    },
    ready: () => httpOk(`${url}/healthz`),
  });
}

const webDir = path.join(repoRoot, 'web');

function newestMtime(entry: string): number {
  if (!fs.existsSync(entry)) return 0;
  const stat = fs.statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...fs.readdirSync(entry).map((name) => newestMtime(path.join(entry, name))));
}

/** Builds the store (vite build → web/build) unless the build is newer than every source file. */
export async function buildWeb(): Promise<void> {
  const built = path.join(webDir, 'build/index.js');
  const sources = ['src', 'static', 'svelte.config.js', 'vite.config.ts', 'package.json'].map((f) => newestMtime(path.join(webDir, f)));
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs > Math.max(...sources)) return;
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [path.join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: webDir, maxBuffer: 16 << 20 }, (err, _stdout, stderr) =>
      err ? reject(new Error(`vite build failed: ${stderr || err.message}`)) : resolve(),
    );
  });
}

/**
 * The store (SvelteKit, web/) on the layout's web port, talking to `apiUrl`
 * (the layout's API by default). `mode: 'build'` (the default) builds once and
 * runs the production server (adapter-node), as browser tests and benchmarks
 * want; 'dev' runs Vite's dev server.
 */
export async function startWeb(layout: StackLayout, opts: { mode?: 'build' | 'dev'; apiUrl?: string; env?: Record<string, string> } = {}): Promise<Service> {
  const origin = `http://127.0.0.1:${layout.ports.web}`;
  const api = opts.apiUrl ?? `http://127.0.0.1:${layout.ports.api}`;
  const env = {
    ...stackEnv(layout),
    WEB_ORIGIN: origin,
    ORIGIN: origin,
    HOST: '127.0.0.1',
    PORT: String(layout.ports.web),
    WEB_PORT: String(layout.ports.web),
    API_URL: api,
    API_PUBLIC_URL: api,
    PUBLIC_API_URL: api,
    // A publisher's flow upload (up to FLOW_MAX_BYTES as JSON text) passes through the store; adapter-node's default is 512 KB.
    BODY_SIZE_LIMIT: '6M',
    ...opts.env,
  };
  if (opts.mode === 'dev') {
    return startProcess({
      name: 'web', command: process.execPath, args: [path.join(repoRoot, 'node_modules/vite/bin/vite.js'), 'dev'], cwd: webDir, env,
      logDir: layout.logDir, url: origin, ready: () => httpOk(`${origin}/favicon.svg`), readyTimeoutMs: 120_000,
    });
  }
  await buildWeb();
  return startProcess({
    name: 'web', command: process.execPath, args: [path.join(webDir, 'build/index.js')], cwd: webDir, env,
    logDir: layout.logDir, url: origin, ready: () => httpOk(`${origin}/favicon.svg`), readyTimeoutMs: 60_000,
  });
}
