// Temporal's time-skipping test server for the workflow tests: Java's test
// server from Maven Central (deploy/local/tools.ts), never a download, and one
// workflow bundle per test file. Activities are typed fakes given by each test.
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkerOptions } from '@temporalio/worker';
import { repoRoot } from '../../deploy/local/stack';
import { ensureTemporalTestServer } from '../../deploy/local/tools';
import { allSearchAttributes } from '../../workflows/shared/search-attributes';
import { quietLogger } from './quiet-logger';

export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: ensureTemporalTestServer(repoRoot) } },
  });
  // The workflows set these; the test server, like a real cluster, refuses keys it was not told about.
  await env.connection.operatorService
    .addSearchAttributes({
      namespace: env.namespace ?? 'default',
      searchAttributes: Object.fromEntries(allSearchAttributes.map((k) => [k.name, 1 /* KEYWORD */])),
    })
    .catch(() => undefined);
  return env;
}

let bundle: Promise<{ code: string }> | undefined;

/** The workers' own bundle (workflows/index.ts), built once per test file. */
export function workflowBundle(): Promise<{ code: string }> {
  bundle ??= bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows/index.ts'), logger: quietLogger });
  return bundle;
}

let queues = 0;

/** A worker with these activities on a queue of its own, for one test. */
export async function testWorker(env: TestWorkflowEnvironment, activities: WorkerOptions['activities']): Promise<{ worker: Worker; taskQueue: string }> {
  const taskQueue = `wf-test-${process.pid}-${++queues}`;
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
  return { worker, taskQueue };
}
