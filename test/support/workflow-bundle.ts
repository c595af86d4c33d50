// The workers' workflow bundle (workflows/index.ts, with OpenTelemetry's
// workflow interceptors when `traced`, as workers/run-worker.ts bundles them
// for a worker whose tracing is on), written to a file once per test run by a
// vitest globalSetup; workers load it as workflowBundle: { codePath }.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { repoRoot } from '../../deploy/local/stack';
import { bundleInterceptorModules } from '../../workers/tracing';
import { quietLogger } from '../../deploy/local/quiet-logger';

export async function writeWorkflowBundle(file: string, opts: { traced: boolean }): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(repoRoot, 'workflows/index.ts'), workflowInterceptorModules: bundleInterceptorModules(opts.traced), logger: quietLogger,
  });
  fs.writeFileSync(file, code);
  return file;
}
