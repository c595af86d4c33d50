// checkVersion on the time-skipping test server with typed fakes of its
// activities: every check is recorded in order; a failed step stops the steps
// that depend on it; every example runs even after one fails; an offering
// without examples cannot pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { VersionCheckActivities } from '../../activities/catalog/version-checks';
import { versionChecksWorkflowId } from '../../core/catalog/contract';
import type { VersionCheck } from '../../core/catalog/store';
import { startTimeSkipping, testWorker } from '../support/workflow-env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkipping();
}, 60_000);
afterAll(async () => env?.teardown());

const pass = (name: string, input?: string): VersionCheck => ({ name, status: 'passed', detail: 'ok', durationMs: 1, ...(input ? { input } : {}) });
const fail = (name: string, detail: string, input?: string): VersionCheck => ({ name, status: 'failed', detail, durationMs: 1, ...(input ? { input } : {}) });

function fakes(opts: { examples: string[]; stored?: boolean; answer?: (input: string) => boolean }) {
  const recorded: VersionCheck[] = [];
  const finished: string[] = [];
  const ran: string[] = [];
  const activities: VersionCheckActivities = {
    async beginVersionChecks() {
      return { examples: opts.examples };
    },
    async recordVersionCheck({ check }) {
      recorded.push(check);
    },
    async finishVersionChecks({ status }) {
      finished.push(status);
    },
    async checkStoredArtifact() {
      return opts.stored === false ? fail('stored', 'Artifact flows/x.json has sha256 b, expected a') : pass('stored');
    },
    async registerVersionFlow() {
      return { check: pass('registered'), flowId: 'flow-1' };
    },
    async runVersionExample({ index, input }) {
      ran.push(input);
      return (opts.answer ?? (() => true))(input) ? pass(`example ${index + 1}`, input) : fail(`example ${index + 1}`, 'the triage rules file is missing', input);
    },
  };
  return { activities, recorded, finished, ran };
}

async function check(f: ReturnType<typeof fakes>, versionId: string) {
  const { worker, taskQueue } = await testWorker(env, f.activities);
  return worker.runUntil(env.client.workflow.execute('checkVersion', { taskQueue, workflowId: versionChecksWorkflowId(versionId), args: [{ versionId, runTimeoutMs: 5_000 }] }));
}

describe('checkVersion', () => {
  it('passes when the artifact is intact, the flow registers and every example answers', async () => {
    const f = fakes({ examples: ['a', 'b'] });
    expect(await check(f, 'v-pass')).toEqual({ status: 'passed' });
    expect(f.recorded.map((c) => `${c.name}:${c.status}`)).toEqual(['stored:passed', 'registered:passed', 'example 1:passed', 'example 2:passed']);
    expect(f.finished).toEqual(['passed']);
  });

  it('runs every example even after one fails, and fails', async () => {
    const f = fakes({ examples: ['bad', 'good', 'bad again'], answer: (i) => i === 'good' });
    expect(await check(f, 'v-examples')).toEqual({ status: 'failed' });
    expect(f.ran).toEqual(['bad', 'good', 'bad again']);
    expect(f.recorded.filter((c) => c.status === 'failed').map((c) => c.name)).toEqual(['example 1', 'example 3']);
  });

  it('does not register or run anything when the stored artifact does not match', async () => {
    const f = fakes({ examples: ['a'], stored: false });
    expect(await check(f, 'v-stored')).toEqual({ status: 'failed' });
    expect(f.recorded.map((c) => c.name)).toEqual(['stored']);
    expect(f.ran).toEqual([]);
  });

  it('cannot pass without example inputs', async () => {
    const f = fakes({ examples: [] });
    expect(await check(f, 'v-none')).toEqual({ status: 'failed' });
    expect(f.recorded.at(-1)).toMatchObject({ name: 'examples', status: 'failed', detail: expect.stringContaining('no example inputs') });
  });
});
