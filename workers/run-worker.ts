// Shared start-up of every worker process: config, JSON logs (each line carries
// the workflow id and activity the SDK puts in its log metadata), a Temporal
// connection, one Worker on one task queue, and a clean shutdown on
// SIGINT/SIGTERM. Entry points (workers/<queue>.ts) only build their clients
// and activities.
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '../core/config';
import { createLogger, type Logger } from '../core/logger';
import { startHealthServer, type HealthServer } from '../core/metrics/health-server';
import { initTracing, type Tracing } from '../core/observability/tracing';
import { workerTracingOptions } from './tracing';

export const workflowsPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../workflows/index.ts');

export interface WorkerSpec {
  name: string;
  taskQueue: string;
  /** Builds the activities from real clients; returns a close function for them. */
  build(config: Config, logger: Logger): Promise<{ activities: object; close(): Promise<void>; afterStart?(): Promise<void> }>;
  options?: Partial<WorkerOptions>;
}

function installRuntime(logger: Logger, config: Config): void {
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry) => {
      const level = entry.level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
      logger[level === 'trace' ? 'trace' : level](entry.meta ?? {}, entry.message);
    }),
    // The SDK's own worker metrics (task slots, poll and schedule-to-start latencies…) on a port of their own.
    ...(config.TEMPORAL_SDK_METRICS_PORT
      ? { telemetryOptions: { metrics: { prometheus: {
        bindAddress: `${config.WORKER_HEALTH_HOST}:${config.TEMPORAL_SDK_METRICS_PORT}`,
        // Prometheus's conventions: counters end in _total, durations in seconds with the unit in the name.
        countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true,
      } } } }
      : {}),
  });
}

export async function runWorker(spec: WorkerSpec): Promise<void> {
  const logger = createLogger(`worker-${spec.name}`);
  let close: (() => Promise<void>) | undefined;
  let connection: NativeConnection | undefined;
  let health: HealthServer | undefined;
  let tracing: Tracing | undefined;
  try {
    const config = loadConfig();
    installRuntime(logger, config);
    tracing = initTracing(`cmp-worker-${spec.name}`, { otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
    const built = await spec.build(config, logger);
    close = built.close;
    connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
    // A prebuilt bundle (the dev stack's, built for its tracing setting; the image's: with OpenTelemetry's workflow
    // interceptors, and CMP_WORKFLOW_BUNDLE_UNTRACED without them for workers whose tracing is off), else bundled here.
    const bundlePath = (tracing.enabled ? undefined : process.env.CMP_WORKFLOW_BUNDLE_UNTRACED) ?? process.env.CMP_WORKFLOW_BUNDLE;
    const worker = await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: `${spec.taskQueue}${config.TEMPORAL_TASK_QUEUE_SUFFIX}`,
      activities: built.activities,
      ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath }),
      shutdownGraceTime: '10s',
      ...workerTracingOptions(tracing),
      ...spec.options,
    });
    const stop = () => worker.shutdown();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (config.WORKER_HEALTH_PORT !== undefined) {
      const conn = connection;
      // Ready while the worker runs and its own connection reaches Temporal within a second.
      health = await startHealthServer({
        host: config.WORKER_HEALTH_HOST, port: config.WORKER_HEALTH_PORT, probeTimeoutMs: 1000,
        probes: {
          temporal: async () => {
            if (worker.getState() !== 'RUNNING') throw new Error(`worker is ${worker.getState()}`);
            await conn.workflowService.getSystemInfo({});
          },
        },
      });
      logger.info({ url: health.url }, 'health port listening (/metrics, /healthz, /readyz)');
    }
    logger.info({ taskQueue: spec.taskQueue }, 'worker started');
    await built.afterStart?.();
    await worker.run();
    logger.info('worker stopped');
  } catch (err) {
    logger.fatal({ err }, 'worker failed');
    process.exitCode = 1;
  } finally {
    await health?.close();
    await tracing?.shutdown().catch(() => undefined);
    await close?.().catch(() => undefined);
    await connection?.close().catch(() => undefined);
  }
}
