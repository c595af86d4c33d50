// Worker for the 'housekeeping' task queue: voids expired credit holds every
// minute, checks the ledger's invariants every 15 minutes and grants monthly
// plan allowances every hour, through Temporal Schedules that this worker
// creates when they are missing.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig } from '../core/config';
import { createDb, pingDb } from '../core/db';
import { createLedger } from '../core/ledger';
import { createLogger } from '../core/logger';
import { createLedgerActivities } from '../activities/ledger';
import { createAllowanceActivities } from '../activities/ledger/allowances';
import { HOUSEKEEPING_TASK_QUEUE, housekeepingSchedules } from '../workflows/housekeeping/contract';

const log = createLogger('worker-housekeeping');

/** Creates the housekeeping schedules if they do not exist yet (safe to run from every replica). */
export async function ensureHousekeepingSchedules(client: Client, taskQueue = HOUSEKEEPING_TASK_QUEUE): Promise<string[]> {
  const created: string[] = [];
  for (const s of Object.values(housekeepingSchedules)) {
    try {
      await client.schedule.create({
        scheduleId: s.scheduleId,
        spec: { intervals: [{ every: s.every }] },
        // A sweep still running when the next is due makes the next one pointless.
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
        action: { type: 'startWorkflow', workflowType: s.workflowType, workflowId: `housekeeping-${s.workflowType}`, taskQueue, args: [] },
      });
      created.push(s.scheduleId);
    } catch (error) {
      if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    }
  }
  return created;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  let connection: NativeConnection | undefined;
  let clientConnection: Connection | undefined;
  try {
    await pingDb(db);
    const ledger = createLedger(db);
    connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
    clientConnection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    const client = new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE });

    const bundlePath = process.env.CMP_WORKFLOW_BUNDLE;
    const worker = await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: HOUSEKEEPING_TASK_QUEUE,
      activities: { ...createLedgerActivities(ledger), ...createAllowanceActivities({ db, ledger }) },
      ...(bundlePath
        ? { workflowBundle: { codePath: bundlePath } }
        : { workflowsPath: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../workflows/index.ts') }),
    });

    const created = await ensureHousekeepingSchedules(client);
    log.info({ taskQueue: HOUSEKEEPING_TASK_QUEUE, schedulesCreated: created }, 'housekeeping worker started');

    // SIGINT/SIGTERM: finish in-flight tasks, then close everything below.
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      worker.shutdown();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    await worker.run();
    log.info('housekeeping worker stopped');
  } finally {
    await clientConnection?.close();
    await connection?.close();
    await db.destroy();
  }
}

// Run only as an entry point, so tests can import ensureHousekeepingSchedules.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    log.fatal({ err: error }, 'housekeeping worker failed');
    process.exit(1);
  });
}
