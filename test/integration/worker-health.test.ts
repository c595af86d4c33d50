// A worker process's health port, as Kubernetes probes it: the real
// workers/runs.ts entry point against a Temporal dev server of this test's
// own. /readyz answers 200 while the worker reaches Temporal, 503 once the
// server is gone (while /healthz stays 200: the process is alive, restarting
// it would not help), and 200 again when the server is back. /metrics serves
// the process's metrics and the SDK's own on its second port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpOk, type Service } from '../../deploy/local/processes';
import { startNodeService, startTemporal, testLayout, type StackLayout } from '../../deploy/local/stack';
import { testConfig, workflowBundlePath } from '../support/stack';
import { until } from '../support/until';

const base = testLayout();
// A private server: stopping it must not disturb the shared one the other test files use.
const layout: StackLayout = {
  ...base,
  ports: { ...base.ports, temporal: base.ports.temporal + 50, temporalUi: base.ports.temporalUi + 50, temporalMetrics: base.ports.temporalMetrics + 50 },
};
const healthPort = base.ports.workerHealth + 5;
const sdkPort = base.ports.workerSdkMetrics + 5;
const healthUrl = `http://127.0.0.1:${healthPort}`;

let temporal: Service | undefined;
let worker: Service | undefined;

/** The probe's HTTP status; 0 while it cannot connect (a "not yet" for until). */
const status = async (path: string) => (await fetch(`${healthUrl}${path}`, { signal: AbortSignal.timeout(5000) }).catch(() => null))?.status ?? 0;

beforeAll(async () => {
  temporal = await startTemporal(layout, { inMemory: true });
  const config = testConfig();
  worker = await startNodeService(layout, 'worker-runs-health', 'workers/runs.ts', {
    url: healthUrl,
    env: {
      DATABASE_URL: config.DATABASE_URL, TEMPORAL_ADDRESS: `127.0.0.1:${layout.ports.temporal}`, CMP_WORKFLOW_BUNDLE: workflowBundlePath(),
      WORKER_HEALTH_PORT: String(healthPort), TEMPORAL_SDK_METRICS_PORT: String(sdkPort), LOG_LEVEL: 'warn',
    },
    ready: () => httpOk(`${healthUrl}/healthz`),
    readyTimeoutMs: 120_000,
  });
}, 240_000);

afterAll(async () => {
  await worker?.stop();
  await temporal?.stop();
});

describe('worker health port', () => {
  it('is ready while the worker reaches Temporal and serves its metrics', async () => {
    await until('ready', async () => (await status('/readyz')) === 200);
    const metrics = await (await fetch(`${healthUrl}/metrics`)).text();
    expect(metrics).toContain('# TYPE cmp_run_outcomes_total counter');
    expect(metrics).toContain('process_cpu_seconds_total');
    const sdk = await (await fetch(`http://127.0.0.1:${sdkPort}/metrics`)).text();
    expect(sdk).toMatch(/temporal_worker_task_slots_available\{[^}]*task_queue="runs"/);
  });

  it('goes unready when the Temporal server is gone, stays alive, and is ready again when it is back', async () => {
    await temporal!.stop();
    await until('unready after losing Temporal', async () => (await status('/readyz')) === 503, 30_000);
    const body = await (await fetch(`${healthUrl}/readyz`)).json();
    expect(body).toMatchObject({ status: 'not_ready' });
    expect(await status('/healthz')).toBe(200);

    temporal = await startTemporal(layout, { inMemory: true });
    await until('ready again', async () => (await status('/readyz')) === 200, 90_000);
  }, 180_000);
});
