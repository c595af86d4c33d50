// One process of bench:runs' split layout, as production runs them (`npm run
// dev` too): `api` serves the API, `runs-worker` runs runWithCreditHold,
// `floor-worker` the empty floor workflow. Each reads the stack's environment
// (loadConfig), prints "ready" on stdout once serving, and stops on SIGTERM.
//   tsx test/bench/run-path-process.ts api|runs-worker|floor-worker
// BENCH_TASK_QUEUE names the queue; BENCH_API_PORT the API's port;
// BENCH_METRICS_PORT serves the process's metrics (the API's registry, or the
// SDK worker's Prometheus metrics) for the bench's breakdown.
import http from 'node:http';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createApp } from '../../api/app';
import { createRouters } from '../../api/routes';
import { createRunActivities } from '../../activities/runs';
import { validateFlow } from '../../core/artifacts';
import { createClients } from '../../core/clients';
import { loadConfig } from '../../core/config';
import { createLogger } from '../../core/logger';
import { exposition } from '../../core/metrics/registry';
import { initTracing } from '../../core/observability/tracing';
import { createSaleorWebhookVerifier } from '../../core/saleor/webhook-signature';
import { repoRoot } from '../../deploy/local/stack';
import { workerTracingOptions } from '../../workers/tracing';

const role = process.argv[2];
const taskQueue = process.env.BENCH_TASK_QUEUE ?? 'bench-runs';
const metricsPort = process.env.BENCH_METRICS_PORT ? Number(process.env.BENCH_METRICS_PORT) : undefined;
const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

async function serveApi(): Promise<() => Promise<void>> {
  const config = loadConfig();
  const logger = createLogger('bench-api', 'warn');
  const clients = createClients(config, logger);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection });
  const platform = await createRouters({
    config, db: clients.db, temporal, logger, ledger: clients.ledger, saleor: clients.saleor, artifacts: clients.artifacts,
    validateFlow: (f) => validateFlow(f).problems, webhookVerifier: createSaleorWebhookVerifier({ saleorApiUrl: config.SALEOR_API_URL }),
    taskQueues: { provisioning: 'bench-provisioning', runs: taskQueue },
  });
  const app = createApp({ logger, webOrigin: config.WEB_ORIGIN, probes: {}, routers: platform.routers });
  const server = await new Promise<http.Server>((r) => {
    const s = app.listen(Number(process.env.BENCH_API_PORT), '127.0.0.1', () => r(s));
  });
  const metrics = metricsPort === undefined ? undefined : await new Promise<http.Server>((r) => {
    const s = http.createServer((_req, res) => void exposition().then((m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.body))).listen(metricsPort, '127.0.0.1', () => r(s));
  });
  return async () => {
    server.close();
    metrics?.close();
    await platform.close();
    await connection.close();
    await clients.close();
  };
}

async function runWorker(): Promise<() => Promise<void>> {
  const config = loadConfig();
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    ...(metricsPort === undefined ? {} : { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}`, useSecondsForDurations: true } } } }),
  });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  let worker: Worker;
  let close = async () => undefined as void;
  if (role === 'runs-worker') {
    const logger = createLogger('bench-worker', 'warn');
    const clients = createClients(config, logger);
    close = () => clients.close();
    const { LangflowRuntime } = await import('../../core/runtime/langflow-runtime');
    worker = await Worker.create({
      connection, taskQueue, ...workerTracingOptions(initTracing('cmp-bench')),
      workflowBundle: await bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows/index.ts'), logger: silent }),
      activities: createRunActivities({ ...clients, runtime: new LangflowRuntime({ url: config.LANGFLOW_URL, apiKey: config.LANGFLOW_API_KEY, runTimeoutMs: 10_000 }) }),
      // As workers/runs.ts.
      maxConcurrentWorkflowTaskExecutions: 100, maxConcurrentLocalActivityExecutions: 200, maxCachedWorkflows: 2000,
    });
  } else {
    worker = await Worker.create({
      connection, taskQueue, maxCachedWorkflows: 2000, maxConcurrentWorkflowTaskExecutions: 100,
      workflowBundle: await bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'test/bench/temporal-floor.workflow.ts'), logger: silent }),
    });
  }
  const running = worker.run();
  return async () => {
    worker.shutdown();
    await running;
    await connection.close();
    await close();
  };
}

async function main(): Promise<void> {
  if (!['api', 'runs-worker', 'floor-worker'].includes(role ?? '')) throw new Error('usage: run-path-process.ts api|runs-worker|floor-worker');
  const stop = role === 'api' ? await serveApi() : await runWorker();
  process.once('SIGTERM', () => void stop().then(() => process.exit(0), () => process.exit(1)));
  process.stdout.write('ready\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
