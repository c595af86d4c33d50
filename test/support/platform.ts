// The whole platform in one test process, on the real test stack: a fresh
// database, the real API app (listening on a port), and real Temporal workers
// with the production activities over real clients — on task queues of this
// test file's own, so files running in parallel never take each other's work.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createApp } from '../../api/app';
import { createRouters, type Platform } from '../../api/routes';
import { createVersionCheckActivities } from '../../activities/catalog/version-checks';
import { createProvisioningActivities } from '../../activities/provisioning';
import { createCatalogSyncActivities } from '../../activities/saleor/catalog-sync';
import { createSweepActivities } from '../../activities/saleor/sweep';
import { createRunActivities } from '../../activities/runs';
import { createConnectorActivities } from '../../activities/connectors';
import { connectorEgressGuard, type LookupAll } from '../../core/connectors';
import { runTokenIssuer } from '../../core/connectors/run-token';
import { ConnectorStore } from '../../core/connectors/store';
import { validateFlow } from '../../core/artifacts';
import { createClients, type Clients } from '../../core/clients';
import type { Config } from '../../core/config';
import { createLogger } from '../../core/logger';
import { createSaleorWebhookVerifier } from '../../core/saleor/webhook-signature';
import { seedCatalog } from '../../deploy/local/seed';
import type { MailSender } from '../../core/mail';
import { freshDatabase, testConfig, workflowBundlePath } from './stack';
import { initTracing } from '../../core/observability/tracing';
import { workerTracingOptions } from '../../workers/tracing';

export interface TestPlatform {
  url: string;
  config: Config;
  clients: Clients;
  temporal: Client;
  platform: Platform;
  taskQueues: { provisioning: string; runs: string; connectors?: string };
  /** TEMPORAL_TASK_QUEUE_SUFFIX that puts a worker process on this platform's queues. */
  queueSuffix: string;
  versionIds: Record<string, string>;
  /** fetch against the API with JSON in and out. */
  call(method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export interface PlatformOptions {
  /** Listen on this port (the Saleor sandbox delivers webhooks to the layout's API port). */
  port?: number;
  seed?: boolean;
  /** Extra activities for the provisioning worker, or replacements (fault injection). */
  provisioningActivities?: (base: Record<string, unknown>) => Record<string, unknown>;
  startWorkers?: boolean;
  /** Builds the run activities from this platform's clients (tests swap a client, e.g. the runtime). */
  runActivities?: (ctx: { clients: Clients; config: Config }) => Record<string, unknown>;
  configOverrides?: Record<string, string>;
  /** Outgoing mail (a RecordingMailSender keeps the invitations' mails); the log when absent. */
  mail?: MailSender;
  /** Start a connectors worker (connectorCall); `lookup` replaces DNS in its egress guard. */
  connectors?: { lookup?: LookupAll };
}

export async function startPlatform(opts: PlatformOptions = {}): Promise<TestPlatform> {
  const fresh = await freshDatabase();
  const config = testConfig({ DATABASE_URL: fresh.url, ...opts.configOverrides });
  const logger = createLogger('test-platform', 'warn');
  const clients = createClients(config, logger);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  // The process's tracing as a test installed it (tracing.test.ts: an in-memory exporter), else one exporting nothing.
  const tracing = initTracing('cmp-test');
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, interceptors: tracing.clientInterceptors });
  const suffix = randomBytes(4).toString('hex');
  const taskQueues = { provisioning: `provisioning-${suffix}`, runs: `runs-${suffix}`, ...(opts.connectors ? { connectors: `connectors-${suffix}` } : {}) };
  const queueSuffix = `-${suffix}`;

  const versionIds = opts.seed === false ? {} : (await seedCatalog(clients.db, clients.artifacts)).versionIds;

  const platform = await createRouters({
    config, db: clients.db, temporal, logger, ledger: clients.ledger, saleor: clients.saleor, artifacts: clients.artifacts,
    validateFlow: (flow) => validateFlow(flow).problems,
    webhookVerifier: createSaleorWebhookVerifier({ saleorApiUrl: config.SALEOR_API_URL, jwksCooldownMs: 0 }),
    taskQueues, mail: opts.mail,
  });
  const app = createApp({ logger, tracing, webOrigin: config.WEB_ORIGIN, probes: {}, routers: platform.routers });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(opts.port ?? 0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const workers: { worker: Worker; running: Promise<void> }[] = [];
  let workerConnection: NativeConnection | undefined;
  if (opts.startWorkers !== false) {
    workerConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
    const base = {
      ...createProvisioningActivities({ ...clients, starterCreditsMc: config.STARTER_CREDITS * 1000 }),
      ...createCatalogSyncActivities({ ...clients, productTypeId: config.SALEOR_PRODUCT_TYPE_ID, categoryId: config.SALEOR_CATEGORY_ID }),
      ...createSweepActivities(clients),
      ...createVersionCheckActivities(clients),
    };
    const worker = await Worker.create({
      connection: workerConnection,
      taskQueue: taskQueues.provisioning,
      workflowBundle: { codePath: workflowBundlePath(tracing.enabled) },
      ...workerTracingOptions(tracing),
      activities: opts.provisioningActivities ? opts.provisioningActivities(base) : base,
    });
    workers.push({ worker, running: worker.run() });
    const runs = await Worker.create({
      connection: workerConnection,
      taskQueue: taskQueues.runs,
      workflowBundle: { codePath: workflowBundlePath(tracing.enabled) },
      ...workerTracingOptions(tracing),
      // Flows reach the connector gateway on this platform's own API.
      activities: opts.runActivities ? opts.runActivities({ clients, config }) : createRunActivities({ ...clients, connectorTokens: runTokenIssuer({ ...config, CONNECTOR_GATEWAY_URL: config.CONNECTOR_GATEWAY_URL ?? url }) }),
    });
    workers.push({ worker: runs, running: runs.run() });
    if (opts.connectors && taskQueues.connectors) {
      const connectors = await Worker.create({
        connection: workerConnection,
        taskQueue: taskQueues.connectors,
        workflowBundle: { codePath: workflowBundlePath(tracing.enabled) },
        ...workerTracingOptions(tracing),
        activities: createConnectorActivities({
          connectors: new ConnectorStore(clients.db), secrets: clients.secrets, ledger: clients.ledger,
          guard: connectorEgressGuard(config, opts.connectors.lookup), signingSecret: config.SIGNING_SECRET,
        }),
      });
      workers.push({ worker: connectors, running: connectors.run() });
    }
  }

  return {
    url, config, clients, temporal, platform, taskQueues, queueSuffix, versionIds,
    async call(method, path, o = {}) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...o.headers,
        },
        body: o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body),
      });
      const text = await res.text();
      let body: any = text;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body, headers: res.headers };
    },
    async close() {
      for (const w of workers) {
        w.worker.shutdown();
        await w.running.catch(() => undefined);
      }
      await workerConnection?.close();
      await new Promise((r) => server.close(r));
      await platform.close();
      await connection.close();
      await clients.close();
      await fresh.drop();
    },
  };
}
