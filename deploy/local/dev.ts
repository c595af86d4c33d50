// `npm run dev`: the whole platform on its local defaults. Installs what is
// missing, starts every service with a health check (logs in .data/logs/),
// migrates, seeds the launch agents, starts the workers, the API and the store,
// and prints one table. Ctrl-C stops everything; `--reset` wipes .data/ first.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { PROVISIONING_TASK_QUEUE, catalogSyncWorkflowId } from '../../core/provisioning/contract';
import { createDb, migrateLatest } from '../../core/db';
import { loadConfig } from '../../core/config';
import { httpOk, onSpawn, portOpen, stopAll, type Service } from './processes';
import { quietLogger } from './quiet-logger';
import {
  devLayout, ensureGitopsRepo, repoRoot, stackEnv, startKeycloak, startLangflow, startNodeService, startPostgres, startS3, startTemporal, startWeb,
} from './stack';
import { ensureKeycloak, ensureKeycloakJava, ensureLangflow, ensureOpenBao, ensurePostgres, ensurePrometheus, ensureSeaweedFS, ensureTemporal } from './tools';
import { startAlertmanager, startPrometheus, workerPorts } from './observability';
import { startOpenBao } from './openbao';
import { workerEntries, platformServices } from './platform';
import { bundleInterceptorModules } from '../../workers/tracing';

const t0 = Date.now();

const layout = devLayout();
const say = (m: string) => process.stdout.write(`\x1b[35m▸\x1b[0m ${m}\n`);
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

if (process.argv.includes('--reset')) {
  say(`--reset: wiping ${path.relative(repoRoot, layout.dataDir)}/`);
  fs.rmSync(layout.dataDir, { recursive: true, force: true });
}
fs.mkdirSync(layout.logDir, { recursive: true });

// Every service from the moment it is spawned, ready or not: shutdown stops them all.
const services: Service[] = [];
onSpawn((s) => services.push(s));
let stopped: Promise<void> | undefined;
async function shutdown(code: number): Promise<never> {
  // One stop for all callers: a service killed mid-start fails its start, and that failure's shutdown(1) must not
  // exit before the others are stopped.
  stopped ??= (async () => {
    say('stopping…');
    await stopAll(services);
    say('stopped');
  })();
  await stopped;
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

async function track(p: Promise<Service>): Promise<Service> {
  const s = await p;
  say(`${s.name} ready (${elapsed()})`);
  return s;
}

try {
  say('checking tools…');
  ensureTemporal(repoRoot);
  ensurePostgres();
  ensureLangflow(repoRoot);
  ensurePrometheus();
  ensureOpenBao(repoRoot);
  ensureSeaweedFS(repoRoot);
  ensureKeycloakJava();
  ensureKeycloak(repoRoot);
  say(`tools ready (${elapsed()})`);

  const env = stackEnv(layout);
  const config = loadConfig({ ...process.env, ...env });
  const p = layout.ports;
  const busy = (await Promise.all(Object.entries(p).map(async ([name, port]) => ((await portOpen(port)) ? `${name}:${port}` : null)))).filter(Boolean);
  if (busy.length) throw new Error(`ports already in use (another npm run dev?): ${busy.join(', ')}`);

  ensureGitopsRepo(layout);
  say('starting PostgreSQL, Temporal, SeaweedFS (S3), OpenBao (Vault), Keycloak, Langflow and the local stand-ins…');
  const bundlePath = path.join(layout.dataDir, 'workflow-bundle.js');
  const bundle = bundleWorkflowCode({
    workflowsPath: path.join(repoRoot, 'workflows/index.ts'), workflowInterceptorModules: bundleInterceptorModules(Boolean(config.OTEL_EXPORTER_OTLP_ENDPOINT)), logger: quietLogger,
  }).then((b) =>
    fs.writeFileSync(bundlePath, b.code),
  );
  // Langflow takes longest to start and nothing else needs it to boot: it comes up while the rest does.
  const langflow = track(startLangflow(layout));
  langflow.catch(() => undefined);
  // Keycloak's first start (realm import) takes a minute or two; only sign-in needs it, so the API and store start meanwhile.
  const keycloak = track(startKeycloak(layout));
  keycloak.catch(() => undefined);
  await Promise.all([
    track(startPostgres(layout)),
    track(startTemporal(layout)),
    track(startS3(layout)),
    track(startOpenBao(layout, { mount: config.VAULT_KV_MOUNT, token: config.VAULT_TOKEN })),
    ...platformServices(layout).map((s) => track(s)),
  ]);

  const db = createDb(config.DATABASE_URL, 2);
  const applied = await migrateLatest(db);
  say(applied.length ? `migrations applied: ${applied.length}` : 'database schema up to date');
  await db.destroy();
  await seedCatalog();
  await bundle;

  await Promise.all(
    workerEntries.map((w, i) =>
      track(
        startNodeService(layout, `worker-${w.name}`, w.entry, {
          url: `task queue ${w.taskQueue}, health http://127.0.0.1:${workerPorts(layout, i).health}`,
          env: {
            CMP_WORKFLOW_BUNDLE: bundlePath,
            WORKER_HEALTH_PORT: String(workerPorts(layout, i).health),
            TEMPORAL_SDK_METRICS_PORT: String(workerPorts(layout, i).sdk),
          },
          echo: true,
          // The health port answers once the worker is created (run-worker.ts starts it right after Worker.create).
          ready: () => httpOk(`http://127.0.0.1:${workerPorts(layout, i).health}/healthz`),
        }),
      ),
    ),
  );
  await track(
    startNodeService(layout, 'api', 'api/server.ts', {
      url: config.API_PUBLIC_URL,
      env: { API_METRICS_PORT: String(p.apiMetrics) },
      echo: true,
      ready: () => httpOk(`${config.API_PUBLIC_URL}/healthz`),
    }),
  );
  await track(startWeb(layout, { mode: 'dev' }));
  await Promise.all([
    track(startAlertmanager(layout)),
    track(startPrometheus(layout, {
      targets: {
        api: [`127.0.0.1:${p.apiMetrics}`],
        workers: workerEntries.map((w, i) => ({
          taskQueue: w.taskQueue, health: `127.0.0.1:${workerPorts(layout, i).health}`, sdk: `127.0.0.1:${workerPorts(layout, i).sdk}`,
        })),
        temporal: `127.0.0.1:${p.temporalMetrics}`,
      },
    })),
  ]);
  await syncCatalogToSaleor(config);
  await Promise.all([langflow, keycloak]);
  printTable(config);
  say(`ready in ${elapsed()} — logs in ${path.relative(repoRoot, layout.logDir)}/, Ctrl-C stops everything`);
} catch (err) {
  console.error(`\n\x1b[31m✗ npm run dev failed:\x1b[0m ${(err as Error).message}`);
  await shutdown(1);
}

/** Paid plans and credit packs become purchasable once their Saleor variants exist. */
async function syncCatalogToSaleor(config: ReturnType<typeof loadConfig>): Promise<void> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const db = createDb(config.DATABASE_URL, 1);
  try {
    const client = new Client({ connection });
    const offerings = await db('offerings').where('status', 'published').select('id');
    const results = await Promise.all(
      offerings.map((o) =>
        client.workflow.execute('syncCatalogToSaleor', {
          workflowId: catalogSyncWorkflowId(o.id), taskQueue: PROVISIONING_TASK_QUEUE, args: [{ offeringId: o.id }],
          workflowIdConflictPolicy: 'USE_EXISTING',
        }) as Promise<{ variants: number }>,
      ),
    );
    say(`catalog synced to the Saleor sandbox: ${results.reduce((n, r) => n + r.variants, 0)} variants`);
  } finally {
    await db.destroy();
    await connection.close();
  }
}

async function seedCatalog(): Promise<void> {
  const { seedLaunchAgents } = await import('./seed');
  const summary = await seedLaunchAgents(loadConfig({ ...process.env, ...stackEnv(layout) }));
  say(`catalog seeded: ${summary}`);
}

function printTable(config: ReturnType<typeof loadConfig>): void {
  const rows: [string, string][] = [
    ['Store (web)', config.WEB_ORIGIN],
    ['API', `${config.API_PUBLIC_URL}  (OpenAPI: /openapi.json, health: /readyz)`],
    ['Temporal UI', config.TEMPORAL_UI_URL],
    ['Temporal gRPC', config.TEMPORAL_ADDRESS],
    ['PostgreSQL', config.DATABASE_URL],
    ['S3 (SeaweedFS)', `${config.S3_ENDPOINT}  bucket ${config.S3_ARTIFACT_BUCKET}`],
    ['Langflow', config.LANGFLOW_URL],
    ['Keycloak (realm cmp)', `${config.OIDC_ISSUER}  (admin console: ${new URL(config.OIDC_ISSUER).origin}/admin/)`],
    ['Saleor sandbox', config.SALEOR_API_URL],
    ['Vault (OpenBao)', `${config.VAULT_ADDR}  KV v2 at ${config.VAULT_KV_MOUNT}/, token with the cmp policy`],
    ['GitOps repo', config.GITOPS_LOCAL_REPO],
    ['Prometheus', `http://127.0.0.1:${layout.ports.prometheus}  (alerts: /alerts)`],
    ['Alertmanager', `http://127.0.0.1:${layout.ports.alertmanager}`],
    ['Metrics', `/metrics, /healthz, /readyz: API on ${layout.ports.apiMetrics}, workers on ${layout.ports.workerHealth}-${layout.ports.workerHealth + workerEntries.length - 1}`],
    ['Logins (password cmp-dev)', 'buyer@cmp.local, buyer2@cmp.local, support@cmp.local, admin@cmp.local; or register on the sign-in page'],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`\n${'─'.repeat(78)}\n ${'service'.padEnd(w)}  url / port\n${'─'.repeat(78)}`);
  for (const [k, v] of rows) console.log(` ${k.padEnd(w)}  ${v}`);
  console.log(`${'─'.repeat(78)}\n`);
}

