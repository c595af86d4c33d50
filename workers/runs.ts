// Worker for the `runs` task queue: runWithCreditHold. Its ledger steps and the
// runtime call are local activities of this process.
import { createRunActivities } from '../activities/runs';
import { createClients } from '../core/clients';
import { runTokenIssuer } from '../core/connectors/run-token';
import { RUNS_TASK_QUEUE } from '../core/runs/contract';
import { runWorker } from './run-worker';

await runWorker({
  name: 'runs',
  taskQueue: RUNS_TASK_QUEUE,
  async build(config, logger) {
    const c = createClients(config, logger);
    return { activities: createRunActivities({ ...c, connectorTokens: runTokenIssuer(config) }), close: c.close };
  },
  // Many short runs at once: more concurrent workflow tasks and local activities than the defaults.
  options: { maxConcurrentWorkflowTaskExecutions: 100, maxConcurrentLocalActivityExecutions: 200, maxCachedWorkflows: 2000 },
});
