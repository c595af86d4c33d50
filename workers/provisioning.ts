// Worker for the `provisioning` task queue: purchaseToProvision,
// deprovisioning, catalog sync, a new version's checks and the lost-webhook
// sweep (a Temporal Schedule).
import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { createVersionCheckActivities } from '../activities/catalog/version-checks';
import { createProvisioningActivities } from '../activities/provisioning';
import { createCatalogSyncActivities } from '../activities/saleor/catalog-sync';
import { createSweepActivities } from '../activities/saleor/sweep';
import { createClients } from '../core/clients';
import { PROVISIONING_TASK_QUEUE, SWEEP_SCHEDULE_ID } from '../core/provisioning/contract';
import { runWorker } from './run-worker';

await runWorker({
  name: 'provisioning',
  taskQueue: PROVISIONING_TASK_QUEUE,
  async build(config, logger) {
    const c = createClients(config, logger);
    return {
      activities: {
        ...createProvisioningActivities({ ...c, starterCreditsMc: config.STARTER_CREDITS * 1000 }),
        ...createCatalogSyncActivities({ ...c, productTypeId: config.SALEOR_PRODUCT_TYPE_ID, categoryId: config.SALEOR_CATEGORY_ID }),
        ...createSweepActivities(c),
        ...createVersionCheckActivities(c),
      },
      close: c.close,
      async afterStart() {
        const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
        try {
          await new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }).schedule.create({
            scheduleId: SWEEP_SCHEDULE_ID,
            spec: { intervals: [{ every: '5m' }] },
            action: { type: 'startWorkflow', workflowType: 'sweepPaidOrders', taskQueue: PROVISIONING_TASK_QUEUE, args: [{ windowHours: 48 }] },
            policies: { overlap: ScheduleOverlapPolicy.SKIP },
          });
          logger.info({ scheduleId: SWEEP_SCHEDULE_ID }, 'schedule created');
        } catch (err) {
          if (!(err instanceof ScheduleAlreadyRunning)) throw err;
        } finally {
          await connection.close();
        }
      },
    };
  },
});
