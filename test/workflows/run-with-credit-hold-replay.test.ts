// Runs whose history the previous workers wrote (placeHold, executeRun, then
// settleHold or releaseHold, and recordRun: four steps where today's runs take
// three, see finishRun) replay on today's workflow code without a
// nondeterminism error: the patched() branch keeps their steps. The histories
// (histories/run-with-credit-hold-v1-*.bin, temporal.api.history.v1.History
// encoded) were recorded on the dev server from the code before finishRun: a
// succeeded, a failed and a refused run.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject, describe, expect, it } from 'vitest';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'histories');
const { History } = proto.temporal.api.history.v1;

describe('runWithCreditHold replays the histories of earlier workers', () => {
  for (const outcome of ['succeeded', 'failed', 'rejected']) {
    it(`a ${outcome} run recorded before finishRun`, async () => {
      const history = History.decode(fs.readFileSync(path.join(dir, `run-with-credit-hold-v1-${outcome}.bin`)));
      // The recorded steps, so this test cannot pass on a history of today's shape.
      const steps = history.events.flatMap((e) => (e.markerRecordedEventAttributes?.markerName === 'core_local_activity'
        ? [JSON.parse(Buffer.from(e.markerRecordedEventAttributes.details!.data!.payloads![0]!.data!).toString()).activity_type as string] : []));
      expect(steps).toEqual(
        outcome === 'succeeded' ? ['placeHold', 'executeRun', 'settleHold', 'recordRun']
          : outcome === 'failed' ? ['placeHold', 'executeRun', 'releaseHold', 'recordRun'] : ['placeHold', 'recordRun'],
      );
      await expect(Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history)).resolves.toBeUndefined();
    });
  }
});
