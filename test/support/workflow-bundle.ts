// The workers' workflow bundle (workflows/index.ts with the same workflow
// interceptor modules as workers/run-worker.ts), written to a file once per
// test run by a vitest globalSetup; workers load it as workflowBundle: { codePath }.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { repoRoot } from '../../deploy/local/stack';
import { workflowInterceptorModules } from '../../workers/tracing';
import { quietLogger } from '../../deploy/local/quiet-logger';

export async function writeWorkflowBundle(file: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows/index.ts'), workflowInterceptorModules, logger: quietLogger });
  fs.writeFileSync(file, code);
  return file;
}
