// What the local platform runs besides the third-party servers: the local
// stand-ins for systems that cannot run here, and one worker per task queue.
import type { Service } from './processes';
import { startSaleorSandbox, type StackLayout } from './stack';

export const workerEntries = [
  { name: 'provisioning', taskQueue: 'provisioning', entry: 'workers/provisioning.ts' },
  { name: 'runs', taskQueue: 'runs', entry: 'workers/runs.ts' },
  { name: 'connectors', taskQueue: 'connectors', entry: 'workers/connectors.ts' },
  { name: 'housekeeping', taskQueue: 'housekeeping', entry: 'workers/housekeeping.ts' },
];

/** Local stand-ins (Saleor sandbox), started in parallel. */
export function platformServices(layout: StackLayout): Promise<Service>[] {
  return [startSaleorSandbox(layout)];
}
