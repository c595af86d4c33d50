// Worker for the `connectors` task queue: connectorCall. Its activities read
// binding secrets from Vault and call outside tools through the egress guard.
import { createConnectorActivities } from '../activities/connectors';
import { createClients } from '../core/clients';
import { connectorEgressGuard } from '../core/connectors';
import { ConnectorStore } from '../core/connectors/store';
import { CONNECTORS_TASK_QUEUE } from '../core/connectors/contract';
import { runWorker } from './run-worker';

await runWorker({
  name: 'connectors',
  taskQueue: CONNECTORS_TASK_QUEUE,
  async build(config, logger) {
    const c = createClients(config, logger);
    const activities = createConnectorActivities({
      connectors: new ConnectorStore(c.db), secrets: c.secrets, ledger: c.ledger, guard: connectorEgressGuard(config), signingSecret: config.SIGNING_SECRET,
    });
    return { activities, close: c.close };
  },
});
