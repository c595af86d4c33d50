// Measures the agent runtime as the launch agents see it: Langflow's cold start
// (fresh data folder to /health_check OK), the first run of each agent after
// registration, then run latency p50/p95 over N runs.
//   npx tsx deploy/local/agents/measure.ts [runs=30]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LangflowRuntime } from '../../../core/runtime';
import { startLangflow, testLayout, type StackLayout } from '../stack';
import { LAUNCH_AGENT_SLUGS, loadLaunchAgent } from './index';

const runs = Number(process.argv[2] ?? 30);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-langflow-measure-'));
// Slot 9's Langflow port, on a throw-away data folder: a genuinely cold start.
const layout: StackLayout = { ...testLayout(9), dataDir, logDir: path.join(dataDir, 'logs') };
fs.mkdirSync(layout.logDir, { recursive: true });

const t0 = performance.now();
const langflow = await startLangflow(layout);
const coldStartMs = performance.now() - t0;
const runtime = new LangflowRuntime({ url: langflow.url, apiKey: 'cmp-dev-langflow-key', runTimeoutMs: 30_000 });
const pct = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
try {
  console.log(`Langflow cold start (fresh data folder → /health_check ok): ${(coldStartMs / 1000).toFixed(1)} s`);
  for (const slug of LAUNCH_AGENT_SLUGS) {
    const { meta, flow } = loadLaunchAgent(slug);
    const r0 = performance.now();
    await runtime.ensureFlow({ name: meta.name, endpointName: slug, flow });
    const registerMs = performance.now() - r0;
    const first = await runtime.run(slug, { input: meta.exampleInputs[0]! });
    const latencies: number[] = [];
    for (let i = 0; i < runs; i++) latencies.push((await runtime.run(slug, { input: meta.exampleInputs[i % meta.exampleInputs.length]! })).latencyMs);
    latencies.sort((a, b) => a - b);
    console.log(
      `${slug}: register ${registerMs.toFixed(0)} ms, first run ${first.latencyMs.toFixed(0)} ms, ` +
        `then ${runs} runs p50 ${pct(latencies, 0.5).toFixed(0)} ms, p95 ${pct(latencies, 0.95).toFixed(0)} ms, max ${latencies.at(-1)!.toFixed(0)} ms`,
    );
  }
} finally {
  await runtime.close();
  await langflow.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
