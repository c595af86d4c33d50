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

export const workflowsPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../workflows/index.ts');

export interface WorkerSpec {
  name: string;
  taskQueue: string;
  /** Builds the activities from real clients; returns a close function for them. */
  build(config: Config, logger: Logger): Promise<{ activities: object; close(): Promise<void>; afterStart?(): Promise<void> }>;
  options?: Partial<WorkerOptions>;
}

function installRuntimeLogger(logger: Logger): void {
  Runtime.install({
    logger: new DefaultLogger('INFO', (entry) => {
      const level = entry.level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
      logger[level === 'trace' ? 'trace' : level](entry.meta ?? {}, entry.message);
    }),
  });
}

export async function runWorker(spec: WorkerSpec): Promise<void> {
  const logger = createLogger(`worker-${spec.name}`);
  let close: (() => Promise<void>) | undefined;
  let connection: NativeConnection | undefined;
  try {
    const config = loadConfig();
    installRuntimeLogger(logger);
    const built = await spec.build(config, logger);
    close = built.close;
    connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
    // The dev stack bundles the workflows once for all workers (CMP_WORKFLOW_BUNDLE).
    const bundlePath = process.env.CMP_WORKFLOW_BUNDLE;
    const worker = await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: `${spec.taskQueue}${config.TEMPORAL_TASK_QUEUE_SUFFIX}`,
      activities: built.activities,
      ...(bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath }),
      shutdownGraceTime: '10s',
      ...spec.options,
    });
    const stop = () => worker.shutdown();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    logger.info({ taskQueue: spec.taskQueue }, 'worker started');
    await built.afterStart?.();
    await worker.run();
    logger.info('worker stopped');
  } catch (err) {
    logger.fatal({ err }, 'worker failed');
    process.exitCode = 1;
  } finally {
    await close?.().catch(() => undefined);
    await connection?.close().catch(() => undefined);
  }
}
