// The run path's own overhead: POST /v1/runs (API key, rate limit, Temporal
// Update-with-Start, credit hold, runtime call, settlement) against a
// zero-latency runtime stand-in, compared in the same run with that stand-in
// called directly (the baseline). Concurrency 1, 16 and 64; added latency
// p50/p95/p99 and runs per second. Starts what it needs itself on test slot 9:
// PostgreSQL, the Temporal dev server, S3, the stand-in, the API and a runs
// worker in this process. Streamed runs (POST /v1/runs with "stream": true,
// chunks through PostgreSQL LISTEN/NOTIFY) are timed to their first output
// chunk and to their end at concurrency 1 and 16.
// Metrics' cost: with BENCH_METRICS=both (the default) it then alternates the
// run path at c16 with metric recording on and off (setMetricsEnabled: the
// HTTP middleware, run, ledger and webhook recorders all return at once when
// off), BENCH_METRICS_PAIRS pairs of BENCH_RUNS runs, and reports runs/s of
// each and their ratio (on / off). BENCH_METRICS=on|off pins the switch and
// skips that phase.
// Tracing's cost: with BENCH_TRACING=both (the default) it then alternates the
// c16 run path through a second API, Temporal client and runs worker with
// tracing on (server, client, workflow and activity spans, batched to an
// exporter that drops them: the SDK's cost without the network) and the
// untraced path (tracing off, as with no OTEL_EXPORTER_OTLP_ENDPOINT),
// BENCH_TRACING_PAIRS pairs (default BENCH_METRICS_PAIRS), and reports
// tracing_throughput_ratio (on / off). BENCH_TRACING=off skips it.
// Processes: with BENCH_PROCESSES=split (the default) the table's run path is
// an API process and a runs worker process (test/bench/run-path-process.ts),
// as production and `npm run dev` run them, and the floor's worker is a
// process of its own; BENCH_PROCESSES=one serves both from this process (the
// load generator's) on one event loop. The metrics and tracing phases compare
// code paths and run in this process either way.
// Breakdown: at c1, where a run's and a floor workflow's time goes, from the
// Temporal server's Prometheus metrics (service and persistence latency per
// operation), the SDK worker's (workflow task schedule-to-start and execution,
// each local activity) and the API's request latency: per-phase means.
// Refused runs: c16 runs on a key whose wallet cannot cover the hold, their
// p95 (refused_p95_ms) and how many workflows they started (visibility).
// Floor speed-up: the floor on a fresh dev server configured as the stack's
// (TEMPORAL_DYNAMIC_CONFIG) against issue 17's starting configuration (20
// task-queue reads a second per shard, search attributes read from the
// database) started beside it, BENCH_FLOOR_PAIRS alternating pairs: workflows/s
// at c16 (floor_speedup_vs_baseline) and p50 at c1
// (floor_c1_latency_speedup_vs_baseline); BENCH_FLOOR_CANDIDATE=full-sqlite|
// full-postgres puts the full Temporal server (TEMPORAL_SERVER_BIN,
// TEMPORAL_SQL_TOOL, TEMPORAL_SERVER_SCHEMA) in the candidate's place;
// BENCH_FLOOR_BASELINE=off skips it.
// BENCH_API_NODE_ARGS and BENCH_WORKER_NODE_ARGS are Node flags for the split API and runs worker processes (a CPU
// profile: "--cpu-prof --cpu-prof-dir=DIR").
// Candidates: BENCH_AB=native-client,pollers pairs the in-process path with a
// variant (the API's Temporal client on a NativeConnection; the worker with
// nonStickyToStickyPollRatio 1) at c16 and c1, BENCH_AB_PAIRS pairs each;
// BENCH_AB=workflows-from:<path to workflows/index.ts> runs the variant on the
// workflows of another checkout (an earlier commit: git worktree add).
//   npm run bench:runs            (BENCH_RUNS=400 per concurrency level by default)
//   BENCH_RUNS=5 BENCH_WARMUP=10 BENCH_METRICS_PAIRS=1 npm run bench:runs   (a smoke: does it run?)
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { ExportResultCode } from '@opentelemetry/core';
import { BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createApp } from '../../api/app';
import { createRouters } from '../../api/routes';
import { createRunActivities } from '../../activities/runs';
import { validateFlow } from '../../core/artifacts';
import { ApiKeyStore } from '../../core/api-keys/store';
import { createClients } from '../../core/clients';
import { loadConfig } from '../../core/config';
import { createDb, migrateLatest } from '../../core/db';
import { createLogger } from '../../core/logger';
import { setMetricsEnabled } from '../../core/metrics/registry';
import { LangflowRuntime } from '../../core/runtime/langflow-runtime';
import { createSaleorWebhookVerifier } from '../../core/saleor/webhook-signature';
import { stopAll, type Service } from '../../deploy/local/processes';
import { seedCatalog } from '../../deploy/local/seed';
import { repoRoot, stackEnv, startPostgres, startS3, startTemporal, testLayout } from '../../deploy/local/stack';
import { startFakeRuntime } from '../support/fake-runtime';
import { cpuSeconds, phase, parseHistograms, scrape, sdkKeep, serverKeep, type Histograms } from './breakdown';
import { startDevServer, startFullServer, TODAY_DYNAMIC_CONFIG, type TemporalServer } from './temporal-servers';
import { exposition } from '../../core/metrics/registry';
import { portOpen, startProcess } from '../../deploy/local/processes';
import { floorResultUpdate } from './temporal-floor.workflow';
import { initTracing, type Tracing } from '../../core/observability/tracing';
import { bundleInterceptorModules, workerTracingOptions } from '../../workers/tracing';

const slot = Number(process.env.CMP_TEST_SLOT ?? 9);
const perLevel = Number(process.env.BENCH_RUNS ?? 400);
const LEVELS = [1, 16, 64];
const warmup = Number(process.env.BENCH_WARMUP ?? 200);
const metricsMode = process.env.BENCH_METRICS ?? 'both';
const metricsPairs = Number(process.env.BENCH_METRICS_PAIRS ?? 4);
if (!['both', 'on', 'off'].includes(metricsMode)) throw new Error('BENCH_METRICS must be both, on or off');
const tracingMode = process.env.BENCH_TRACING ?? 'both';
const tracingPairs = Number(process.env.BENCH_TRACING_PAIRS ?? metricsPairs);
if (!['both', 'off'].includes(tracingMode)) throw new Error('BENCH_TRACING must be both or off');
setMetricsEnabled(metricsMode !== 'off');
const processesMode = process.env.BENCH_PROCESSES ?? 'split';
if (!['split', 'one'].includes(processesMode)) throw new Error('BENCH_PROCESSES must be split or one');
const floorBaseline = process.env.BENCH_FLOOR_BASELINE ?? 'on';
const floorCandidate = process.env.BENCH_FLOOR_CANDIDATE ?? 'stack';
const floorPairs = Number(process.env.BENCH_FLOOR_PAIRS ?? 3);
const abCandidates = (process.env.BENCH_AB ?? '').split(',').filter(Boolean);
const abPairs = Number(process.env.BENCH_AB_PAIRS ?? 3);
if (abCandidates.some((c) => !['native-client', 'pollers'].includes(c) && !c.startsWith('workflows-from:'))) {
  throw new Error('BENCH_AB lists native-client, pollers and/or workflows-from:<workflows/index.ts of another checkout>');
}
if (!['stack', 'full-sqlite', 'full-postgres'].includes(floorCandidate)) throw new Error('BENCH_FLOOR_CANDIDATE must be stack, full-sqlite or full-postgres');

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * `pairs` alternating pairs of a candidate and its baseline, the candidate first in every other pair (this machine's
 * speed drifts: pairs, not one long block each); each side's results in order.
 */
async function alternate<T>(pairs: number, measure: (candidate: boolean) => Promise<T>): Promise<{ candidate: T[]; baseline: T[] }> {
  const out = { candidate: [] as T[], baseline: [] as T[] };
  for (let i = 0; i < pairs; i++) {
    for (const candidate of i % 2 === 0 ? [true, false] : [false, true]) out[candidate ? 'candidate' : 'baseline'].push(await measure(candidate));
  }
  return out;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/** One POST over a keep-alive agent; resolves with the status. */
function post(url: string, body: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One streamed POST: the time to its first `output` event and to the end of the stream. */
function postStream(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; firstChunkMs: number; totalMs: number }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      let firstChunkMs = NaN;
      let seen = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        if (Number.isNaN(firstChunkMs)) {
          seen += text;
          if (seen.includes('event: output')) firstChunkMs = performance.now() - start;
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, firstChunkMs, totalMs: performance.now() - start }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function loadStreamed(concurrency: number, total: number, call: () => ReturnType<typeof postStream>) {
  const first: number[] = [];
  const whole: number[] = [];
  let failures = 0;
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < total) {
      const r = await call();
      if (r.status !== 200 || Number.isNaN(r.firstChunkMs)) failures++;
      else first.push(r.firstChunkMs);
      whole.push(r.totalMs);
    }
  }));
  first.sort((a, b) => a - b);
  whole.sort((a, b) => a - b);
  return { ttfc_p50: pct(first, 50), ttfc_p95: pct(first, 95), total_p50: pct(whole, 50), total_p95: pct(whole, 95), failures };
}

async function load(concurrency: number, total: number, call: () => Promise<number>) {
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let failures = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < total) {
      const start = performance.now();
      const status = await call();
      if (status !== 200) failures++;
      statuses[status] = (statuses[status] ?? 0) + 1;
      latencies.push(performance.now() - start);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: pct(latencies, 50), p95: pct(latencies, 95), p99: pct(latencies, 99), perS: latencies.length / seconds, failures, statuses, latencies: latencies.length };
}

async function main(): Promise<void> {
  const layout = testLayout(slot);
  // The SDK's worker metrics (schedule-to-start, local activities) for the breakdown.
  const sdkMetricsUrl = `http://127.0.0.1:${layout.ports.workerSdkMetrics}/metrics`;
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${layout.ports.workerSdkMetrics}`, useSecondsForDurations: true } } },
  });
  fs.rmSync(layout.dataDir, { recursive: true, force: true });
  const services: Service[] = [];
  const fake = await startFakeRuntime({ apiKey: 'cmp-dev-langflow-key' });
  try {
    services.push(...(await Promise.all([startPostgres(layout), startTemporal(layout), startS3(layout)])));
    const pgUrl = services[0]!.url;
    const admin = createDb(pgUrl, 1);
    await admin.raw('drop database if exists cmp_bench with (force)');
    await admin.raw('create database cmp_bench');
    await admin.destroy();
    const config = loadConfig({ ...stackEnv(layout), DATABASE_URL: pgUrl.replace(/\/cmp$/, '/cmp_bench'), LANGFLOW_URL: fake.url, LOG_LEVEL: 'warn', DATABASE_POOL_MAX: '30' });
    const logger = createLogger('bench', 'warn');
    const clients = createClients(config, logger);
    await migrateLatest(clients.db);
    const { versionIds } = await seedCatalog(clients.db, clients.artifacts);

    // An organization with a funded wallet, an active instance and an API key.
    const ws = await clients.tenancy.ensureWorkspace((await clients.db('users').insert({ oidc_subject: 'bench' }).returning('id'))[0].id, 'bench');
    const wallet = await clients.ledger.ensureWallet(ws.org.id);
    const promo = await clients.ledger.ensureSystemAccount('promo');
    await clients.ledger.transfer({ id: 'bench-funding', debitAccountId: promo.id, creditAccountId: wallet.id, amount: 1e12, reason: 'adjustment' });
    const version = await clients.catalog.getVersion(versionIds['ticket-triage']!);
    const plan = (await clients.catalog.plansOf(version.offeringId)).find((p) => p.code === 'free')!;
    await clients.db('plans').where('id', plan.id).update({ rate_limit_per_minute: 1e6, org_rate_limit_per_minute: 1e6 });
    await clients.db('instances').insert({
      id: randomUUID(), org_id: ws.org.id, offering_id: version.offeringId, offering_version_id: version.id, plan_id: plan.id, status: 'active', order_id: 'bench', order_line: 0,
    });
    const key = (await new ApiKeyStore(clients.db).create({ orgId: ws.org.id, name: 'bench', createdBy: null })).secret;

    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    const temporal = new Client({ connection });
    const taskQueues = { provisioning: 'bench-provisioning', runs: 'bench-runs' };
    const platform = await createRouters({
      config, db: clients.db, temporal, logger, ledger: clients.ledger, saleor: clients.saleor, artifacts: clients.artifacts,
      validateFlow: (f) => validateFlow(f).problems, webhookVerifier: createSaleorWebhookVerifier({ saleorApiUrl: config.SALEOR_API_URL }), taskQueues,
    });
    const app = createApp({ logger, webOrigin: config.WEB_ORIGIN, probes: {}, routers: platform.routers });
    const server = await new Promise<http.Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    // As workers bundle them: OpenTelemetry's workflow interceptors only for the traced phase's worker.
    const bundles = {
      untraced: await bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows/index.ts'), logger: silent }),
      traced: await bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows/index.ts'), workflowInterceptorModules: bundleInterceptorModules(true), logger: silent }),
    };
    const workerConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
    // Tracing off (no exporter configured), as deployed without OTEL_EXPORTER_OTLP_ENDPOINT.
    const runsWorkerOptions = (taskQueue: string, tracing: Tracing) => ({
      connection: workerConnection, taskQueue, workflowBundle: tracing.enabled ? bundles.traced : bundles.untraced, ...workerTracingOptions(tracing),
      activities: createRunActivities({ ...clients, runtime: new LangflowRuntime({ url: fake.url, apiKey: config.LANGFLOW_API_KEY, runTimeoutMs: 10_000 }) }),
      maxConcurrentWorkflowTaskExecutions: 100, maxConcurrentLocalActivityExecutions: 200, maxCachedWorkflows: 2000,
    });
    const worker = await Worker.create(runsWorkerOptions(taskQueues.runs, initTracing('cmp-bench')));
    // The Temporal floor: an empty workflow of the same shape, on its own task queue and worker in this process.
    const floorWorker = await Worker.create({
      connection: workerConnection, taskQueue: 'bench-floor', maxCachedWorkflows: 2000, maxConcurrentWorkflowTaskExecutions: 100,
      workflowBundle: await bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'test/bench/temporal-floor.workflow.ts'), logger: silent }),
    });
    const running = Promise.all([worker.run(), floorWorker.run()]);

    // The split layout: the API, the runs worker and the floor's worker each a process of their own.
    const split = processesMode === 'split';
    const splitPorts = { api: layout.ports.api, apiMetrics: layout.ports.workerHealth, workerSdkMetrics: layout.ports.workerSdkMetrics + 1 };
    const childEnv = {
      ...stackEnv(layout), DATABASE_URL: config.DATABASE_URL, LANGFLOW_URL: fake.url, LOG_LEVEL: 'warn', DATABASE_POOL_MAX: '30', CMP_TEST_SLOT: String(slot),
    };
    const startChild = (role: string, env: Record<string, string>, ready?: () => Promise<boolean>, nodeArgs: string[] = []) => {
      const log = path.join(layout.logDir, `bench-${role}.log`);
      return startProcess({
        name: `bench-${role}`, command: path.join(repoRoot, 'node_modules/.bin/tsx'), args: [...nodeArgs, path.join(repoRoot, 'test/bench/run-path-process.ts'), role],
        env: { ...childEnv, ...env }, logDir: layout.logDir, url: role, readyTimeoutMs: 120_000,
        ready: async () => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('ready') && (!ready || (await ready())),
      });
    };
    if (split) {
      services.push(...(await Promise.all([
        startChild('api', {
          BENCH_TASK_QUEUE: 'bench-runs-split', BENCH_API_PORT: String(splitPorts.api), BENCH_METRICS_PORT: String(splitPorts.apiMetrics),
        }, () => portOpen(splitPorts.api), (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean)),
        startChild('runs-worker', { BENCH_TASK_QUEUE: 'bench-runs-split', BENCH_METRICS_PORT: String(splitPorts.workerSdkMetrics) }, undefined, (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean)),
        startChild('floor-worker', { BENCH_TASK_QUEUE: 'bench-floor-split' }),
      ])));
    }
    const tableApiUrl = split ? `http://127.0.0.1:${splitPorts.api}` : apiUrl;
    const tableRunsQueue = split ? 'bench-runs-split' : taskQueues.runs;
    const tableFloorQueue = split ? 'bench-floor-split' : 'bench-floor';

    const runBody = JSON.stringify({ agent: 'ticket-triage', input: 'Refund please: charged twice' });
    const inProcessRunCall = () => post(`${apiUrl}/v1/runs`, runBody, { authorization: `Bearer ${key}` });
    const runCall = () => post(`${tableApiUrl}/v1/runs`, runBody, { authorization: `Bearer ${key}` });
    const streamBody = JSON.stringify({ agent: 'ticket-triage', input: 'Refund please: charged twice', stream: true });
    const streamCall = () => postStream(`${tableApiUrl}/v1/runs`, streamBody, { authorization: `Bearer ${key}` });
    // Warm up: flow registration, artifact cache, connection pools, JIT.
    await load(8, warmup, runCall);
    if (split) await load(8, warmup, inProcessRunCall);
    const flowId = (await new LangflowRuntime({ url: fake.url, apiKey: config.LANGFLOW_API_KEY, runTimeoutMs: 10_000 }).ensureFlow({
      name: version.runtimeFlowName!, endpointName: version.runtimeFlowName!, flow: JSON.parse((await clients.artifacts.getVerified(version.artifactKey, version.sha256)).toString()),
    })).flowId;
    const directBody = JSON.stringify({ input_value: 'Refund please: charged twice', input_type: 'chat', output_type: 'chat' });
    const directCall = () => post(`${fake.url}/api/v1/run/${flowId}`, directBody, { 'x-api-key': config.LANGFLOW_API_KEY });
    await load(8, warmup, directCall);
    const floorCall = async () => {
      const startWorkflowOperation = new WithStartWorkflowOperation('temporalFloor', { workflowId: `floor-${randomUUID()}`, taskQueue: tableFloorQueue, workflowIdConflictPolicy: 'FAIL' });
      await temporal.workflow.executeUpdateWithStart(floorResultUpdate, { startWorkflowOperation });
      return 200;
    };
    await load(8, Math.ceil(warmup / 2), floorCall);
    await loadStreamed(8, Math.ceil(warmup / 4), streamCall);

    const rows: Record<string, number>[] = [];
    const figures: Record<string, number> = {};
    for (const c of LEVELS) {
      const base = await load(c, perLevel * 2, directCall);
      const floor = await load(c, perLevel, floorCall);
      const path_ = await load(c, perLevel, runCall);
      const row = {
        concurrency: c, base_p50: base.p50, base_p95: base.p95, floor_p50: floor.p50, floor_p95: floor.p95, floor_per_s: floor.perS,
        run_p50: path_.p50, run_p95: path_.p95, run_p99: path_.p99,
        added_p50: path_.p50 - base.p50, added_p95: path_.p95 - base.p95, added_p99: path_.p99 - base.p99, runs_per_s: path_.perS, failures: path_.failures,
      };
      rows.push(row);
      figures[`c${c}_added_p50_ms`] = Math.round(row.added_p50 * 10) / 10;
      figures[`c${c}_added_p95_ms`] = Math.round(row.added_p95 * 10) / 10;
      figures[`c${c}_added_p99_ms`] = Math.round(row.added_p99 * 10) / 10;
      figures[`c${c}_runs_per_s`] = Math.round(row.runs_per_s);
      figures[`c${c}_failures`] = row.failures;
      figures[`c${c}_temporal_floor_p95_ms`] = Math.round(row.floor_p95 * 10) / 10;
      figures[`c${c}_temporal_floor_per_s`] = Math.round(row.floor_per_s);
      if (c === 16) {
        figures.c16_runs_per_s_exact = row.runs_per_s;
        figures.c16_temporal_floor_per_s_exact = row.floor_per_s;
      }
    }
    const streamed: Record<string, number>[] = [];
    for (const c of [1, 16]) {
      const s_ = await loadStreamed(c, perLevel, streamCall);
      streamed.push({ concurrency: c, ...s_ });
      figures[`c${c}_stream_first_chunk_p50_ms`] = Math.round(s_.ttfc_p50 * 10) / 10;
      figures[`c${c}_stream_first_chunk_p95_ms`] = Math.round(s_.ttfc_p95 * 10) / 10;
      figures[`c${c}_stream_total_p95_ms`] = Math.round(s_.total_p95 * 10) / 10;
      figures[`c${c}_stream_failures`] = s_.failures;
    }
    console.log('\nrun path vs. the runtime stand-in called directly (ms)');
    console.log('(temporal floor: an empty workflow of the same shape, Update-with-Start, on the same server in this run)');
    console.log('conc  base p50  base p95 floor p50 floor p95  floor/s   run p50   run p95   run p99  added p50  added p95  added p99   runs/s  failed');
    for (const r of rows) {
      console.log(
        [r.concurrency!.toString().padStart(4), ...[r.base_p50, r.base_p95, r.floor_p50, r.floor_p95].map((v) => v!.toFixed(1).padStart(9)), r.floor_per_s!.toFixed(0).padStart(8),
          ...[r.run_p50, r.run_p95, r.run_p99, r.added_p50, r.added_p95, r.added_p99].map((v) => v!.toFixed(1).padStart(9)),
          r.runs_per_s!.toFixed(0).padStart(8), String(r.failures).padStart(7)].join(' '),
      );
    }
    console.log('\nstreamed runs ("stream": true; the stand-in answers in one piece, as the launch agents do on Langflow) (ms)');
    console.log('conc  first chunk p50  first chunk p95   end p50   end p95  failed   (non-streamed run p50/p95 above)');
    for (const r of streamed) {
      console.log([r.concurrency!.toString().padStart(4), r.ttfc_p50!.toFixed(1).padStart(16), r.ttfc_p95!.toFixed(1).padStart(16), r.total_p50!.toFixed(1).padStart(9), r.total_p95!.toFixed(1).padStart(9), String(r.failures).padStart(7)].join(' '));
    }
    figures.c16_floor_ratio = Math.round((figures.c16_runs_per_s_exact! / figures.c16_temporal_floor_per_s_exact!) * 1000) / 1000;
    figures.c1_p50_over_floor_ms = Math.round((rows[0]!.added_p50! - rows[0]!.floor_p50!) * 10) / 10;
    delete figures.c16_runs_per_s_exact;
    delete figures.c16_temporal_floor_per_s_exact;
    console.log(`\nprocesses: ${processesMode}; c16 runs/s over floor workflows/s ${figures.c16_floor_ratio} (target ≥ 0.9); c1 added p50 minus floor p50 ${figures.c1_p50_over_floor_ms} ms (target ≤ 15)`);

    // Breakdown at c1: histogram means over one phase of the run path and one of the floor.
    const apiKeep = (name: string, l: Record<string, string>) => (name === 'cmp_http_request_duration_seconds' && l.method === 'POST' && l.route === '/v1/runs' ? 'api POST /v1/runs' : null);
    const sdkUrl = split ? `http://127.0.0.1:${splitPorts.workerSdkMetrics}/metrics` : sdkMetricsUrl;
    const apiText = async () => (split ? (await fetch(`http://127.0.0.1:${splitPorts.apiMetrics}/metrics`)).text() : (await exposition()).body);
    const serverMetricsUrl = `http://127.0.0.1:${layout.ports.temporalMetrics}/metrics`;
    const snapshot = async (queue: string): Promise<Histograms> => new Map([
      ...(await scrape(serverMetricsUrl, serverKeep)), ...(await scrape(sdkUrl, sdkKeep(queue))), ...parseHistograms(await apiText(), apiKeep),
    ]);
    const breakdownRuns = Math.min(perLevel, 200);
    const measured = async (queue: string, call: () => Promise<number>) => {
      const before = await snapshot(queue);
      const r = await load(1, breakdownRuns, call);
      return { r, parts: phase(before, await snapshot(queue)) };
    };
    const runParts = await measured(tableRunsQueue, runCall);
    const floorParts = await measured(tableFloorQueue, floorCall);
    // CPU per run at c16, per process (tree): what bounds runs/s on two shared cores.
    const pidOf = (name: string) => services.find((x) => x.name === name)?.child?.pid;
    const cpuRoots = { api: pidOf('bench-api'), 'runs worker': pidOf('bench-runs-worker'), 'floor worker': pidOf('bench-floor-worker'), temporal: pidOf('temporal'), postgres: pidOf('postgres') };
    const cpuPerRun = async (call: () => Promise<number>) => {
      // The bench's own process alone (its children are the trees above).
      const self = () => {
        const u = process.cpuUsage();
        return { [split ? 'load generator' : 'bench (load, API, workers)']: (u.user + u.system) / 1e6 };
      };
      const before = { ...self(), ...cpuSeconds(cpuRoots) };
      const r = await load(16, perLevel, call);
      const after = { ...self(), ...cpuSeconds(cpuRoots) };
      return { perS: r.perS, ms: Object.fromEntries(Object.keys(after).map((k) => [k, ((after[k]! - (before[k] ?? 0)) / perLevel) * 1000])) };
    };
    const runCpu = await cpuPerRun(runCall);
    const floorCpu = await cpuPerRun(floorCall);
    const cpuLine = (c: { ms: Record<string, number> }) => Object.entries(c.ms).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
    console.log(`\nCPU ms per run at c16 (user + system, process trees; ${split ? 'split' : 'the bench process holds API and workers'}):`);
    console.log(`  run path (${runCpu.perS.toFixed(0)}/s): ${cpuLine(runCpu)}, total ${sum(Object.values(runCpu.ms)).toFixed(1)}`);
    console.log(`  floor    (${floorCpu.perS.toFixed(0)}/s): ${cpuLine(floorCpu)}, total ${sum(Object.values(floorCpu.ms)).toFixed(1)}`);
    for (const [k, v] of Object.entries(runCpu.ms)) figures[`c16_cpu_ms_per_run_${k.replace(/ /g, '_')}`] = Math.round(v * 10) / 10;
    for (const [k, v] of Object.entries(floorCpu.ms)) figures[`c16_cpu_ms_per_floor_workflow_${k.replace(/ /g, '_')}`] = Math.round(v * 10) / 10;
    console.log(`\nbreakdown at c1, ${breakdownRuns} runs each: mean ms per occurrence, occurrences per run (run path | floor); run p50 ${runParts.r.p50.toFixed(1)}, floor p50 ${floorParts.r.p50.toFixed(1)}`);
    const keys = [...new Set([...runParts.parts.keys(), ...floorParts.parts.keys()])].sort();
    const cell = (v?: { count: number; meanMs: number }) => (v ? `${v.meanMs.toFixed(2).padStart(8)} ×${(v.count / breakdownRuns).toFixed(2)}` : `${'—'.padStart(8)}      `);
    for (const k of keys) {
      const a = runParts.parts.get(k);
      const b = floorParts.parts.get(k);
      if ((a?.count ?? 0) + (b?.count ?? 0) < breakdownRuns / 2) continue; // background work, not per run
      console.log(`${k.padEnd(62)} ${cell(a)}   ${cell(b)}`);
    }
    const mean = (parts: typeof runParts.parts, k: string) => parts.get(k)?.meanMs ?? 0;
    const updateWithStart = mean(runParts.parts, 'server frontend ExecuteMultiOperation');
    // The run's steps as its workflow has them (placeHold, executeRun, finishRun), in the order they ran.
    const localActivities = [...runParts.parts].flatMap(([k, v]) => (k.startsWith('worker local activity ') ? [[k.slice('worker local activity '.length), v.meanMs] as const] : []));
    const toFirstTask = mean(runParts.parts, 'worker workflow_task_schedule_to_start_latency');
    const parts = {
      api_before_start: mean(runParts.parts, 'api POST /v1/runs') - updateWithStart,
      start_to_first_workflow_task: toFirstTask,
      ...Object.fromEntries(localActivities.map(([a, v]) => [`local_activity_${a}`, v])),
      settle_to_update_answer: updateWithStart - toFirstTask - sum(localActivities.map(([, v]) => v)),
    };
    console.log('run path, c1 means (ms): ' + Object.entries(parts).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '));
    for (const [k, v] of Object.entries(parts)) figures[`c1_breakdown_${k}_ms`] = Math.round(v * 10) / 10;

    // Refused runs: a second organization whose wallet cannot cover one hold.
    {
      const poorWs = await clients.tenancy.ensureWorkspace((await clients.db('users').insert({ oidc_subject: 'bench-poor' }).returning('id'))[0].id, 'bench-poor');
      await clients.ledger.ensureWallet(poorWs.org.id);
      await clients.db('instances').insert({
        id: randomUUID(), org_id: poorWs.org.id, offering_id: version.offeringId, offering_version_id: version.id, plan_id: plan.id, status: 'active', order_id: 'bench-poor', order_line: 0,
      });
      const poorKey = (await new ApiKeyStore(clients.db).create({ orgId: poorWs.org.id, name: 'bench-poor', createdBy: null })).secret;
      const refusedCall = () => post(`${tableApiUrl}/v1/runs`, runBody, { authorization: `Bearer ${poorKey}` });
      await load(8, 50, refusedCall);
      const startedAfter = new Date().toISOString();
      const refusedCpuBefore: Record<string, number> = cpuSeconds(cpuRoots);
      const selfBefore = process.cpuUsage();
      const refused = await load(16, perLevel, refusedCall);
      // CPU per refused run, per process: what bounds them (the same trees as the runs' line above).
      const refusedCpu = Object.entries(cpuSeconds(cpuRoots)).map(([k, v]) => [k, ((v - (refusedCpuBefore[k] ?? 0)) / perLevel) * 1000] as const);
      const self = process.cpuUsage(selfBefore);
      refusedCpu.push([split ? 'load generator' : 'bench (load, API, workers)', ((self.user + self.system) / 1e3) / perLevel]);
      for (const [k, v] of refusedCpu) figures[`refused_cpu_ms_${k.replace(/ /g, '_')}`] = Math.round(v * 100) / 100;
      console.log(`CPU ms per refused run at c16: ${refusedCpu.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
      // Visibility lags: one paid run after them; once it is listed, every workflow started since is.
      const paid = await runCall();
      if (paid !== 200) throw new Error(`the paid run after the refused ones answered ${paid}`);
      const query = `TaskQueue = '${tableRunsQueue}' AND StartTime >= '${startedAfter}'`;
      let started = 0;
      for (let t = 0; t < 100 && started === 0; t++) {
        started = (await temporal.workflow.count(query)).count;
        if (started === 0) await new Promise((r) => setTimeout(r, 200));
      }
      figures.refused_p95_ms = Math.round(refused.p95 * 10) / 10;
      // Over the stand-in called directly at c16 in this run: what an HTTP round trip costs on this machine right now.
      figures.refused_added_p95_ms = Math.round((refused.p95 - rows[1]!.base_p95!) * 10) / 10;
      figures.refused_p50_ms = Math.round(refused.p50 * 10) / 10;
      figures.refused_workflows_started = started - 1;
      figures.refused_not_402 = refused.latencies - (refused.statuses[402] ?? 0);
      console.log(`\nrefused runs (wallet below one hold) at c16, ${perLevel}: p50 ${refused.p50.toFixed(1)} ms, p95 ${refused.p95.toFixed(1)} ms, ${figures.refused_added_p95_ms} ms over the stand-in's c16 p95 (target ≤ 15 added), workflows started ${started - 1}, answers other than 402: ${figures.refused_not_402}`);
    }

    // The floor against today's Temporal configuration, started beside the stack's server.
    if (floorBaseline === 'on') {
      const extra: TemporalServer[] = [];
      try {
        extra.push(await startDevServer(layout, { label: 'baseline', first: 0, dynamicConfig: TODAY_DYNAMIC_CONFIG }));
        // Both fresh: the stack's own server holds every workflow of the phases above, which slows its SQLite.
        if (floorCandidate === 'stack') extra.push(await startDevServer(layout, { label: 'current', first: 3 }));
        else {
          const bin = process.env.TEMPORAL_SERVER_BIN;
          if (!bin) throw new Error('BENCH_FLOOR_CANDIDATE needs TEMPORAL_SERVER_BIN');
          const store = floorCandidate === 'full-sqlite' ? { kind: 'sqlite' as const } : {
            kind: 'postgres' as const, port: layout.ports.postgres, sqlTool: process.env.TEMPORAL_SQL_TOOL ?? 'temporal-sql-tool', schemaDir: process.env.TEMPORAL_SERVER_SCHEMA ?? '', asyncCommit: true,
          };
          extra.push(await startFullServer(layout, {
            label: floorCandidate, first: 6, bin, store, shards: Number(process.env.TEMPORAL_SERVER_SHARDS ?? 4), conns: floorCandidate === 'full-sqlite' ? 1 : 20,
          }));
        }
        const rigs = await Promise.all([
          ...extra.map(async (s) => ({ label: s.label, client: new Client({ connection: await Connection.connect({ address: s.address }) }), connection: await NativeConnection.connect({ address: s.address }) })),
        ]);
        const floorBundle = await bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'test/bench/temporal-floor.workflow.ts'), logger: silent });
        const sides = await Promise.all(rigs.map(async (r) => {
          const w = await Worker.create({ connection: r.connection, taskQueue: 'bench-floor-compare', maxCachedWorkflows: 2000, maxConcurrentWorkflowTaskExecutions: 100, workflowBundle: floorBundle });
          return { ...r, w, running: w.run() };
        }));
        // The candidate: today's dev server configuration (TEMPORAL_DYNAMIC_CONFIG), or a full server in its place.
        const stackSide = sides[1]!;
        const baselineSide = sides[0]!;
        const call = (c: Client) => async () => {
          const op = new WithStartWorkflowOperation('temporalFloor', { workflowId: `floor-${randomUUID()}`, taskQueue: 'bench-floor-compare', workflowIdConflictPolicy: 'FAIL' });
          // A fresh server answers UNAVAILABLE until its services have found each other.
          for (let t = 0; ; t++) {
            try {
              await c.workflow.executeUpdateWithStart(floorResultUpdate, { startWorkflowOperation: op });
              return 200;
            } catch (err) {
              if (t > 100) throw err;
              await new Promise((r) => setTimeout(r, 300));
            }
          }
        };
        for (const side of [baselineSide, stackSide]) await load(8, warmup, call(side.client));
        const measured = await alternate(floorPairs, async (candidate) => {
          const client = (candidate ? stackSide : baselineSide).client;
          return { perS: (await load(16, perLevel, call(client))).perS, p50: (await load(1, Math.ceil(perLevel / 4), call(client))).p50 };
        });
        const speeds = { candidate: measured.candidate.map((m) => m.perS), baseline: measured.baseline.map((m) => m.perS) };
        const c1p50 = { candidate: measured.candidate.map((m) => m.p50), baseline: measured.baseline.map((m) => m.p50) };
        figures.floor_speedup_vs_baseline = Math.round((sum(speeds.candidate) / sum(speeds.baseline)) * 1000) / 1000;
        figures.c16_floor_baseline_per_s = Math.round(sum(speeds.baseline) / floorPairs);
        figures.c16_floor_candidate_per_s = Math.round(sum(speeds.candidate) / floorPairs);
        // What a caller waits at concurrency 1: the baseline's p50 over the candidate's.
        figures.floor_c1_latency_speedup_vs_baseline = Math.round((sum(c1p50.baseline) / sum(c1p50.candidate)) * 100) / 100;
        figures.c1_floor_baseline_p50_ms = Math.round((sum(c1p50.baseline) / floorPairs) * 10) / 10;
        figures.c1_floor_candidate_p50_ms = Math.round((sum(c1p50.candidate) / floorPairs) * 10) / 10;
        const label = floorCandidate === 'stack' ? "today's dev server configuration" : floorCandidate;
        console.log(`\nfloor at c16 on ${label} vs issue 17's starting configuration, ${floorPairs} alternating pairs of ${perLevel}: ${speeds.candidate.map((v) => v.toFixed(0)).join('/')} vs ${speeds.baseline.map((v) => v.toFixed(0)).join('/')} workflows/s, speed-up ${figures.floor_speedup_vs_baseline} (target ≥ 1.5); c1 p50 ${c1p50.candidate.map((v) => v.toFixed(1)).join('/')} vs ${c1p50.baseline.map((v) => v.toFixed(1)).join('/')} ms, ${figures.floor_c1_latency_speedup_vs_baseline}× faster`);
        for (const side of new Set([...sides, stackSide])) {
          side.w.shutdown();
          await side.running;
        }
        for (const r of rigs) await Promise.all([r.connection.close(), r.client.connection.close()]);
      } finally {
        await stopAll(extra.map((e) => e.service));
      }
    }

    // Our half's candidates, each A/B at c16 against the in-process path in alternating pairs (BENCH_AB=native-client,pollers).
    for (const candidate of abCandidates) {
      const variantQueue = `bench-runs-${candidate.replace(/\W+/g, '-')}`;
      // Another version of the workflows (e.g. a checkout of an earlier commit), with today's activities.
      const otherWorkflows = candidate.startsWith('workflows-from:') ? candidate.slice('workflows-from:'.length) : null;
      const variantConnection = candidate === 'native-client' ? await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }) : connection;
      const variantPlatform = await createRouters({
        config, db: clients.db, temporal: new Client({ connection: variantConnection }), logger, ledger: clients.ledger, saleor: clients.saleor, artifacts: clients.artifacts,
        validateFlow: (f) => validateFlow(f).problems, webhookVerifier: createSaleorWebhookVerifier({ saleorApiUrl: config.SALEOR_API_URL }),
        taskQueues: { ...taskQueues, runs: variantQueue },
      });
      const variantServer = await new Promise<http.Server>((r) => {
        const s = createApp({ logger, webOrigin: config.WEB_ORIGIN, probes: {}, routers: variantPlatform.routers }).listen(0, '127.0.0.1', () => r(s));
      });
      // A run ends in its first workflow task, which always comes from the non-sticky queue: let more pollers wait there.
      const variantWorker = await Worker.create({
        ...runsWorkerOptions(variantQueue, initTracing('cmp-bench')),
        ...(candidate === 'pollers' ? { nonStickyToStickyPollRatio: 1, maxConcurrentWorkflowTaskPolls: 10 } : {}),
        ...(otherWorkflows ? { workflowBundle: await bundleWorkflowCode({ workflowsPath: otherWorkflows, logger: silent }) } : {}),
      });
      const variantRunning = variantWorker.run();
      const variantCall = () => post(`http://127.0.0.1:${(variantServer.address() as AddressInfo).port}/v1/runs`, runBody, { authorization: `Bearer ${key}` });
      await load(8, warmup, variantCall);
      const measured = await alternate(abPairs, async (variant) => {
        const r = await load(16, perLevel, variant ? variantCall : inProcessRunCall);
        const r1 = await load(1, Math.ceil(perLevel / 4), variant ? variantCall : inProcessRunCall);
        figures[`failures_ab_${candidate}`] = (figures[`failures_ab_${candidate}`] ?? 0) + r.failures + r1.failures;
        return { perS: r.perS, p50: r1.p50 };
      });
      const [a, b] = [measured.baseline.map((m) => m.perS), measured.candidate.map((m) => m.perS)];
      const [a1, b1] = [measured.baseline.map((m) => m.p50), measured.candidate.map((m) => m.p50)];
      const key_ = otherWorkflows ? 'other_workflows' : candidate.replace(/-/g, '_');
      figures[`ab_${key_}_c16_ratio`] = Math.round((sum(b) / sum(a)) * 1000) / 1000;
      figures[`ab_${key_}_c1_p50_delta_ms`] = Math.round(((sum(b1) - sum(a1)) / abPairs) * 10) / 10;
      console.log(`\nA/B ${candidate} (in-process path), ${abPairs} alternating pairs: c16 ${b.map((v) => v.toFixed(0)).join('/')} vs ${a.map((v) => v.toFixed(0)).join('/')} runs/s, ratio ${figures[`ab_${key_}_c16_ratio`]}; c1 p50 ${b1.map((v) => v.toFixed(1)).join('/')} vs ${a1.map((v) => v.toFixed(1)).join('/')} ms`);
      variantWorker.shutdown();
      await variantRunning;
      variantServer.close();
      await variantPlatform.close();
      if (variantConnection !== connection) await variantConnection.close();
    }

    // Metrics on and off, alternating in the same run (this machine's speed drifts: pairs, not one long block each).
    if (metricsMode === 'both') {
      const { candidate: on, baseline: off } = await alternate(metricsPairs, async (enabled) => {
        setMetricsEnabled(enabled);
        const r = await load(16, perLevel, inProcessRunCall);
        figures.failures_metrics_phase = (figures.failures_metrics_phase ?? 0) + r.failures;
        return r.perS;
      });
      setMetricsEnabled(true);
      figures.c16_metrics_on_runs_per_s = Math.round(sum(on) / on.length);
      figures.c16_metrics_off_runs_per_s = Math.round(sum(off) / off.length);
      figures.metrics_throughput_ratio = Math.round((sum(on) / sum(off)) * 1000) / 1000;
      console.log(`\nmetrics on vs off at c16, ${metricsPairs} alternating pairs of ${perLevel} runs: on ${on.map((v) => v.toFixed(0)).join('/')} runs/s, off ${off.map((v) => v.toFixed(0)).join('/')} runs/s, ratio ${figures.metrics_throughput_ratio} (target ≥ 0.97)`);
    }
    // Tracing on and off, alternating likewise: the traced path is a second API, client and runs worker.
    if (tracingMode === 'both') {
      const dropSpans: SpanExporter = { export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }), shutdown: async () => undefined };
      const tracing = initTracing('cmp-bench', { spanProcessor: new BatchSpanProcessor(dropSpans) });
      const tracedTemporal = new Client({ connection, interceptors: tracing.clientInterceptors });
      const traced = await createRouters({
        config, db: clients.db, temporal: tracedTemporal, logger, ledger: clients.ledger, saleor: clients.saleor, artifacts: clients.artifacts,
        validateFlow: (f) => validateFlow(f).problems, webhookVerifier: createSaleorWebhookVerifier({ saleorApiUrl: config.SALEOR_API_URL }),
        taskQueues: { ...taskQueues, runs: 'bench-runs-traced' },
      });
      const tracedServer = await new Promise<http.Server>((r) => {
        const s = createApp({ logger, tracing, webOrigin: config.WEB_ORIGIN, probes: {}, routers: traced.routers }).listen(0, '127.0.0.1', () => r(s));
      });
      const tracedWorker = await Worker.create(runsWorkerOptions('bench-runs-traced', tracing));
      const tracedRunning = tracedWorker.run();
      const tracedCall = () => post(`http://127.0.0.1:${(tracedServer.address() as AddressInfo).port}/v1/runs`, runBody, { authorization: `Bearer ${key}` });
      await load(8, warmup, tracedCall);
      const { candidate: on, baseline: off } = await alternate(tracingPairs, async (enabled) => {
        const r = await load(16, perLevel, enabled ? tracedCall : inProcessRunCall);
        figures.failures_tracing_phase = (figures.failures_tracing_phase ?? 0) + r.failures;
        return r.perS;
      });
      figures.c16_tracing_on_runs_per_s = Math.round(sum(on) / on.length);
      figures.c16_tracing_off_runs_per_s = Math.round(sum(off) / off.length);
      figures.tracing_throughput_ratio = Math.round((sum(on) / sum(off)) * 1000) / 1000;
      console.log(`\ntracing on vs off at c16, ${tracingPairs} alternating pairs of ${perLevel} runs: on ${on.map((v) => v.toFixed(0)).join('/')} runs/s, off ${off.map((v) => v.toFixed(0)).join('/')} runs/s, ratio ${figures.tracing_throughput_ratio}`);
      tracedWorker.shutdown();
      await tracedRunning;
      tracedServer.close();
      await traced.close();
      await tracing.shutdown();
    }
    const invariants = await clients.ledger.checkInvariants();
    const runsPerS = Math.max(...rows.map((r) => r.runs_per_s!));
    console.log(`ledger invariants: ${invariants.violations.length} violations`);
    console.log(JSON.stringify({ bench: 'runs', processes: processesMode, floor_candidate: floorCandidate, metrics: metricsMode, tracing: tracingMode, c16_added_p95_ms: figures.c16_added_p95_ms, runs_per_s: runsPerS, violations: invariants.violations.length, ...figures }));

    worker.shutdown();
    floorWorker.shutdown();
    await running;
    await workerConnection.close();
    server.close();
    await platform.close();
    await connection.close();
    await clients.close();
  } finally {
    await fake.close();
    await stopAll(services);
    agent.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
