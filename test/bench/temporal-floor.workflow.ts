// The Temporal floor for bench:runs: the run path's workflow shape (started by
// Update-with-Start, answered by its `result` update) with no steps at all, so
// the bench can show what the Temporal server alone costs per run on this machine.
import { defineUpdate, setHandler } from '@temporalio/workflow';

export const floorResultUpdate = defineUpdate<string>('result');

export async function temporalFloor(): Promise<string> {
  setHandler(floorResultUpdate, () => 'done');
  return 'done';
}
