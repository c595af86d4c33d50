// The API's entry point: builds the real clients from the configuration,
// serves the app (and its metrics on API_METRICS_PORT), and closes every
// connection on SIGINT/SIGTERM. Exits non-zero on a fatal error.
import { Client, Connection } from '@temporalio/client';
import type { Server } from 'node:http';
import { validateFlow } from '../core/artifacts';
import { createClients } from '../core/clients';
import { loadConfig } from '../core/config';
import { createLogger } from '../core/logger';
import { startHealthServer, type HealthServer } from '../core/metrics/health-server';
import { initTracing } from '../core/observability/tracing';
import { createSaleorWebhookVerifier } from '../core/saleor/webhook-signature';
import { createApp } from './app';
import { createProbes } from './health/probes';
import { createRouters } from './routes';
import { PROVISIONING_TASK_QUEUE } from '../core/provisioning/contract';
import { RUNS_TASK_QUEUE } from '../core/runs/contract';
import { CONNECTORS_TASK_QUEUE } from '../core/connectors/contract';

const logger = createLogger('api');

async function main(): Promise<void> {
  const config = loadConfig();
  const clients = createClients(config, logger);
  const tracing = initTracing('cmp-api', { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, interceptors: tracing.clientInterceptors });
  const platform = await createRouters({
    config, db: clients.db, temporal, logger, ledger: clients.ledger, stores: clients, saleor: clients.saleor, artifacts: clients.artifacts,
    validateFlow: (flow) => validateFlow(flow).problems,
    webhookVerifier: createSaleorWebhookVerifier({ saleorApiUrl: config.SALEOR_API_URL }),
    secrets: clients.secrets,
    taskQueues: {
      provisioning: `${PROVISIONING_TASK_QUEUE}${config.TEMPORAL_TASK_QUEUE_SUFFIX}`,
      runs: `${RUNS_TASK_QUEUE}${config.TEMPORAL_TASK_QUEUE_SUFFIX}`,
      connectors: `${CONNECTORS_TASK_QUEUE}${config.TEMPORAL_TASK_QUEUE_SUFFIX}`,
    },
  });
  const probes = createProbes(config, clients.db, connection, clients.artifacts.client);
  const app = createApp({ logger, tracing, webOrigin: config.WEB_ORIGIN, probes, routers: platform.routers });
  const server: Server = app.listen(config.API_PORT, config.API_HOST, () => logger.info({ host: config.API_HOST, port: config.API_PORT }, 'api listening'));
  server.keepAliveTimeout = 65_000;
  // The metrics (business figures) on a port of their own that only Prometheus reaches, never the public one.
  let metrics: HealthServer | undefined;
  if (config.API_METRICS_PORT !== undefined) {
    metrics = await startHealthServer({ host: config.API_HOST, port: config.API_METRICS_PORT, probes });
    logger.info({ url: metrics.url }, 'metrics port listening (/metrics, /healthz, /readyz)');
  }

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'api stopping');
    server.close();
    await metrics?.close();
    await platform.close();
    await connection.close();
    await clients.close();
    await tracing.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  logger.fatal({ err }, 'api failed to start');
  process.exit(1);
});
