// Worker for the 'housekeeping' task queue: voids expired credit holds every
// minute, checks the ledger's invariants every 15 minutes and grants monthly
// plan allowances every hour, through Temporal Schedules that this worker
// creates when they are missing.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { createDb, pingDb } from '../core/db';
import { createLedger } from '../core/ledger';
import { ledgerMetrics } from '../core/metrics/business';
import { registerOperationalGauges } from '../core/metrics/operations';
import { createLedgerActivities } from '../activities/ledger';
import { createAllowanceActivities } from '../activities/ledger/allowances';
import { HOUSEKEEPING_TASK_QUEUE, housekeepingSchedules } from '../core/housekeeping/contract';
import { runWorker } from './run-worker';

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

// Run only as an entry point, so tests can import ensureHousekeepingSchedules.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let temporal: Connection | undefined;
  await runWorker({
    name: 'housekeeping',
    taskQueue: HOUSEKEEPING_TASK_QUEUE,
    async build(config, logger) {
      const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX);
      await pingDb(db);
      const ledger = createLedger(db, { observer: ledgerMetrics });
      registerOperationalGauges(db);
      return {
        activities: { ...createLedgerActivities(ledger), ...createAllowanceActivities({ db, ledger }) },
        async afterStart() {
          temporal = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
          const client = new Client({ connection: temporal, namespace: config.TEMPORAL_NAMESPACE });
          const created = await ensureHousekeepingSchedules(client, `${HOUSEKEEPING_TASK_QUEUE}${config.TEMPORAL_TASK_QUEUE_SUFFIX}`);
          logger.info({ schedulesCreated: created }, 'housekeeping schedules in place');
        },
        async close() {
          await temporal?.close();
          await db.destroy();
        },
      };
    },
  });
}
