// The workflows project's one-time setup: installs Temporal's test server and
// bundles the workflows once per run, not once per test file (three files
// installing at once on a fresh clone raced into one Maven directory).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { repoRoot } from '../../deploy/local/stack';
import { ensureTemporalTestServer } from '../../deploy/local/tools';
import { writeWorkflowBundle } from './workflow-bundle';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalTestServer: string;
    workflowBundlePath: string;
  }
}

export default async function setup(project: TestProject) {
  project.provide('temporalTestServer', ensureTemporalTestServer(repoRoot));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-workflow-bundle-'));
  project.provide('workflowBundlePath', await writeWorkflowBundle(path.join(dir, 'workflow-bundle.js'), { traced: false }));
  return () => fs.rmSync(dir, { recursive: true, force: true });
}
