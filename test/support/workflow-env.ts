// Temporal's time-skipping test server for the workflow tests: Java's test
// server from Maven Central (deploy/local/tools.ts), never a download, and the
// workers' workflow bundle, both prepared once per run by
// test/support/workflows-global-setup.ts. Activities are typed fakes given by each test.
import { inject } from 'vitest';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { initTracing } from '../../core/observability/tracing';
import { workerTracingOptions } from '../../workers/tracing';
import { allSearchAttributes } from '../../workflows/shared/search-attributes';

export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: inject('temporalTestServer') } },
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

let queues = 0;

/** A worker with these activities on a queue of its own, for one test. */
export async function testWorker(env: TestWorkflowEnvironment, activities: WorkerOptions['activities']): Promise<{ worker: Worker; taskQueue: string }> {
  const taskQueue = `wf-test-${process.pid}-${++queues}`;
  // The bundle carries the workers' workflow interceptors, whose spans leave the sandbox through this sink.
  const { sinks } = workerTracingOptions(initTracing('cmp-test'));
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: { codePath: inject('workflowBundlePath') }, activities, sinks });
  return { worker, taskQueue };
}
