// A real worker process (workers/<queue>.ts) on a test platform's own task
// queues, to kill mid-workflow: the one way tests take a worker away.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { onTestFinished } from 'vitest';
import { repoRoot, testLayout } from '../../deploy/local/stack';
import type { Config } from '../../core/config';
import { workflowBundlePath } from './stack';

export interface WorkerProcess {
  process: ChildProcess;
  /** SIGKILL to the worker's process group (tsx and node): no shutdown, as a crash. Safe to call twice. */
  kill(): void;
}

/**
 * Starts `workers/<queue>.ts` with the platform's configuration, its queues named with `queueSuffix`
 * (TEMPORAL_TASK_QUEUE_SUFFIX), its output in the test layout's log folder. Call it inside a test: the worker
 * is killed when that test finishes, passed or failed, so a failing test leaves no worker polling.
 */
export function spawnWorker(queue: 'provisioning' | 'runs' | 'connectors' | 'housekeeping', opts: { config: Config; queueSuffix: string; env?: Record<string, string> }): WorkerProcess {
  const configEnv = Object.fromEntries(Object.entries(opts.config).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
  const log = fs.openSync(path.join(testLayout().logDir, `${queue}-worker${opts.queueSuffix}.log`), 'a');
  const child = spawn(path.join(repoRoot, 'node_modules/.bin/tsx'), [path.join(repoRoot, `workers/${queue}.ts`)], {
    env: { ...process.env, ...configEnv, TEMPORAL_TASK_QUEUE_SUFFIX: opts.queueSuffix, LOG_LEVEL: 'warn', CMP_WORKFLOW_BUNDLE: workflowBundlePath(), ...opts.env },
    stdio: ['ignore', log, log],
    detached: true,
  });
  fs.closeSync(log);
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  onTestFinished(kill);
  return { process: child, kill };
}
