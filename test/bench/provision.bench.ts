// Provisioning latency: from the API receiving Saleor's signed ORDER_FULLY_PAID
// webhook (webhook_events.received_at) to the instance turning active
// (instances.activated_at), over real paid orders: checkout and payment in the
// Saleor sandbox, the webhook it signs and delivers, the purchaseToProvision
// workflow with its real activities (SeaweedFS, Langflow, OpenBao, a local
// GitOps repository, PostgreSQL). Orders run sequentially, then a few at a
// time. Starts what it needs itself on test slot CMP_TEST_SLOT (9 unless set):
// PostgreSQL, Temporal, SeaweedFS, OpenBao, Langflow, the Saleor sandbox, the API
// and a provisioning worker in this process. Target: p95 under 2 s.
//   npm run bench:provision     (BENCH_ORDERS=60 per phase, BENCH_CONCURRENCY=5)
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { createApp } from '../../api/app';
import { createRouters } from '../../api/routes';
import { createProvisioningActivities } from '../../activities/provisioning';
import { createCatalogSyncActivities } from '../../activities/saleor/catalog-sync';
import { createSweepActivities } from '../../activities/saleor/sweep';
import { validateFlow } from '../../core/artifacts';
import { createClients } from '../../core/clients';
import { loadConfig } from '../../core/config';
import { migrateLatest } from '../../core/db';
import { createLogger } from '../../core/logger';
import { SALEOR_METADATA_KEYS } from '../../core/saleor/contract';
import { createSaleorWebhookVerifier } from '../../core/saleor/webhook-signature';
import { stopAll, type Service } from '../../deploy/local/processes';
import { seedCatalog } from '../../deploy/local/seed';
import { startOpenBao } from '../../deploy/local/openbao';
import {
  ensureGitopsRepo, repoRoot, stackEnv, startLangflow, startPostgres, startS3, startSaleorSandbox, startTemporal, testLayout,
} from '../../deploy/local/stack';
import { orderWorkflowId, progressQuery } from '../../core/provisioning/contract';
import { initTracing } from '../../core/observability/tracing';
import { workerTracingOptions } from '../../workers/tracing';

const slot = Number(process.env.CMP_TEST_SLOT ?? 9);
const perPhase = Number(process.env.BENCH_ORDERS ?? 60);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 5);
const TARGET_P95_MS = 2000;
/** An order not active by then counts as failed (the workflow may be parked as needs_attention). */
const ORDER_TIMEOUT_MS = 60_000;

const layout = testLayout(slot);
const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const say = (m: string) => process.stderr.write(`▸ ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const median = (values: number[]) => pct([...values].sort((a, b) => a - b), 50);

interface Buyer {
  email: string;
  orgId: string;
}

interface SellablePlan {
  offering: string;
  code: string;
  variantId: string;
}

interface PlacedOrder {
  orderId: string;
  /** Wall clock just before the buyer pressed "Pay" in the sandbox. */
  paidAtMs: number;
  active: boolean;
}

interface PhaseResult {
  phase: string;
  concurrency: number;
  orders: number;
  failed: number;
  /** webhook received → instance active */
  latencies: number[];
  /** pay pressed → instance active (adds the sandbox's webhook delivery) */
  payLatencies: number[];
  ordersPerMin: number;
  /** Median duration per workflow step, plus "intake" (webhook received → first step started). */
  steps: Record<string, number>;
  /** Median per order of the whole workflow's time in Temporal's queues and in our code. */
  temporal: Record<string, number>;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']>[number];

/** One workflow's time split into task-queue waits and execution, summed over its activities and workflow tasks. */
function temporalSplit(events: HistoryEvent[]): Record<string, number> {
  const at = new Map(events.map((e) => [Number(e.eventId), tsToMs(e.eventTime)]));
  const split = { 'activity queue wait': 0, 'activity execution': 0, 'workflow task queue wait': 0, 'workflow task execution': 0, activities: 0 };
  for (const e of events) {
    const t = tsToMs(e.eventTime);
    if (e.activityTaskStartedEventAttributes) split['activity queue wait'] += t - at.get(Number(e.activityTaskStartedEventAttributes.scheduledEventId))!;
    if (e.activityTaskCompletedEventAttributes) {
      split['activity execution'] += t - at.get(Number(e.activityTaskCompletedEventAttributes.startedEventId))!;
      split.activities++;
    }
    if (e.workflowTaskStartedEventAttributes) split['workflow task queue wait'] += t - at.get(Number(e.workflowTaskStartedEventAttributes.scheduledEventId))!;
    if (e.workflowTaskCompletedEventAttributes) split['workflow task execution'] += t - at.get(Number(e.workflowTaskCompletedEventAttributes.startedEventId))!;
  }
  return split;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  fs.rmSync(layout.dataDir, { recursive: true, force: true });
  fs.mkdirSync(layout.logDir, { recursive: true });
  const services: Service[] = [];
  const track = async (s: Promise<Service>) => {
    const service = await s;
    services.push(service);
    return service;
  };
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    say(`starting PostgreSQL, Temporal, SeaweedFS, OpenBao and Langflow on slot ${slot} (Langflow takes a minute)…`);
    ensureGitopsRepo(layout);
    const bundle = bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows/index.ts'), logger: quiet });
    await Promise.all([
      track(startPostgres(layout)), track(startTemporal(layout, { inMemory: true })), track(startS3(layout)), track(startOpenBao(layout)), track(startLangflow(layout)),
    ]);

    const config = loadConfig({ ...stackEnv(layout), LOG_LEVEL: 'warn', DATABASE_POOL_MAX: '30' });
    const logger = createLogger('bench', 'warn');
    const clients = createClients(config, logger);
    cleanup.push(() => clients.close());
    await migrateLatest(clients.db);
    await seedCatalog(clients.db, clients.artifacts);

    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
    cleanup.push(() => connection.close());
    const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const taskQueues = { provisioning: 'bench-provisioning', runs: 'bench-runs' };
    const platform = await createRouters({
      config, db: clients.db, temporal, logger, ledger: clients.ledger, saleor: clients.saleor, artifacts: clients.artifacts,
      validateFlow: (f) => validateFlow(f).problems, webhookVerifier: createSaleorWebhookVerifier({ saleorApiUrl: config.SALEOR_API_URL }), taskQueues,
    });
    cleanup.push(() => platform.close());
    const app = createApp({ logger, webOrigin: config.WEB_ORIGIN, probes: {}, routers: platform.routers });
    const server = await new Promise<http.Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    cleanup.push(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });
    const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await track(startSaleorSandbox(layout, { webhookTargetUrl: `${apiUrl}/integrations/saleor/webhooks` }));

    const workerConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
    const worker = await Worker.create({
      connection: workerConnection,
      taskQueue: taskQueues.provisioning,
      workflowBundle: await bundle,
      ...workerTracingOptions(initTracing('cmp-bench')),
      activities: {
        ...createProvisioningActivities({ ...clients, starterCreditsMc: config.STARTER_CREDITS * 1000 }),
        ...createCatalogSyncActivities({ ...clients, productTypeId: config.SALEOR_PRODUCT_TYPE_ID, categoryId: config.SALEOR_CATEGORY_ID }),
        ...createSweepActivities(clients),
      },
    });
    const running = worker.run();
    cleanup.push(async () => {
      worker.shutdown();
      await running.catch(() => undefined);
      await workerConnection.close();
    });

    // Paid plans become sellable once synced to Saleor (they get variant ids).
    say('syncing the catalog to Saleor…');
    const offerings: { id: string }[] = await clients.db('offerings').where('status', 'published').select('id');
    for (const o of offerings) {
      await temporal.workflow.execute('syncCatalogToSaleor', { workflowId: `catalog-sync-${o.id}-${Date.now()}`, taskQueue: taskQueues.provisioning, args: [{ offeringId: o.id }] });
    }
    // The cheapest paid plan of every agent: orders rotate through the agents, so each flow is registered once and then found.
    const rows: { slug: string; code: string; saleor_variant_id: string; price_cents: number }[] = await clients.db('plans as p')
      .join('offerings as o', 'o.id', 'p.offering_id')
      .where('o.status', 'published').where('p.status', 'published').where('p.price_cents', '>', 0).whereNotNull('p.saleor_variant_id')
      .orderBy([{ column: 'o.slug' }, { column: 'p.price_cents' }])
      .select('o.slug', 'p.code', 'p.saleor_variant_id', 'p.price_cents');
    const plans: SellablePlan[] = [];
    for (const r of rows) if (!plans.some((p) => p.offering === r.slug)) plans.push({ offering: r.slug, code: r.code, variantId: r.saleor_variant_id });
    if (plans.length === 0) throw new Error('no paid plan has a Saleor variant after the catalog sync');
    say(`selling ${plans.map((p) => `${p.offering}/${p.code}`).join(', ')}`);

    // One buyer (user and workspace) per order, as distinct customers would be; made up front, outside the clock.
    const totalOrders = plans.length + 2 * perPhase;
    const buyers: Buyer[] = [];
    for (let i = 0; i < totalOrders; i++) {
      const email = `buyer${i}@bench.cmp.local`;
      const [user] = await clients.db('users').insert({ oidc_subject: `bench-${i}`, email, name: `Bench buyer ${i}` }).returning('id');
      const ws = await clients.tenancy.ensureWorkspace(user.id, `Bench buyer ${i}`);
      buyers.push({ email, orgId: ws.org.id });
    }

    let orderNo = 0;
    /** Checkout, payment in the sandbox, then wait for the instance to turn active. */
    async function placeOrder(): Promise<PlacedOrder> {
      const n = orderNo++;
      const buyer = buyers[n]!;
      const plan = plans[n % plans.length]!;
      const checkout = await clients.saleor.createCheckout({ email: buyer.email, lines: [{ variantId: plan.variantId, quantity: 1 }], metadata: { [SALEOR_METADATA_KEYS.orgId]: buyer.orgId } });
      const payment = await clients.saleor.startPayment(checkout.checkoutId, { idempotencyKey: `checkout:${checkout.checkoutId}` });
      if (!payment.paymentUrl) throw new Error(`the sandbox gave no payment page for checkout ${checkout.checkoutId}`);
      const paidAtMs = Date.now();
      const res = await fetch(payment.paymentUrl, { method: 'POST', body: new URLSearchParams({ action: 'pay', return_url: 'http://127.0.0.1:1/return' }), redirect: 'manual' });
      const location = res.headers.get('location');
      const orderId = location ? new URL(location).searchParams.get('order_id') : null;
      if (!orderId) throw new Error(`the pay page did not redirect to an order (${res.status}): ${await res.text()}`);
      const deadline = Date.now() + ORDER_TIMEOUT_MS;
      while (Date.now() < deadline) {
        const instance = await clients.db('instances').where('order_id', orderId).whereNotNull('activated_at').first('id');
        if (instance) return { orderId, paidAtMs, active: true };
        await sleep(20);
      }
      return { orderId, paidAtMs, active: false };
    }

    async function phase(name: string, conc: number, total: number): Promise<PhaseResult> {
      const placed: PlacedOrder[] = [];
      let started = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: conc }, async () => {
        while (started++ < total) placed.push(await placeOrder());
      }));
      const minutes = (performance.now() - t0) / 60_000;
      const ids = placed.map((o) => o.orderId);
      const timings: { order_id: string; received_ms: string; activated_ms: string | null }[] = await clients.db('webhook_events as w')
        .leftJoin('instances as i', 'i.order_id', 'w.subject_id')
        .where('w.source', 'saleor').whereIn('w.subject_id', ids)
        .select('w.subject_id as order_id', clients.db.raw('extract(epoch from w.received_at) * 1000 as received_ms'), clients.db.raw('extract(epoch from i.activated_at) * 1000 as activated_ms'));
      const byOrder = new Map(timings.map((t) => [t.order_id, t]));
      const latencies: number[] = [];
      const payLatencies: number[] = [];
      const stepDurations: Record<string, number[]> = {};
      const temporalParts: Record<string, number[]> = {};
      for (const o of placed) {
        const t = byOrder.get(o.orderId);
        if (!o.active || !t?.activated_ms) continue;
        latencies.push(Number(t.activated_ms) - Number(t.received_ms));
        payLatencies.push(Number(t.activated_ms) - o.paidAtMs);
        // Where the time goes, from the workflow's own progress record.
        const handle = temporal.workflow.getHandle(orderWorkflowId(o.orderId));
        const progress = await handle.query(progressQuery);
        for (const [k, v] of Object.entries(temporalSplit((await handle.fetchHistory()).events ?? []))) (temporalParts[k] ??= []).push(v);
        const first = progress.steps[0];
        if (first) (stepDurations.intake ??= []).push(Date.parse(first.startedAt) - Number(t.received_ms));
        for (const s of progress.steps) {
          if (!s.finishedAt) continue;
          (stepDurations[s.name.replace(/ \(line \d+\)$/, '')] ??= []).push(Date.parse(s.finishedAt) - Date.parse(s.startedAt));
        }
      }
      latencies.sort((a, b) => a - b);
      payLatencies.sort((a, b) => a - b);
      const steps = Object.fromEntries(Object.entries(stepDurations).map(([k, v]) => [k, median(v)]));
      const temporalMedians = Object.fromEntries(Object.entries(temporalParts).map(([k, v]) => [k, median(v)]));
      return { phase: name, concurrency: conc, orders: placed.length, failed: placed.length - latencies.length, latencies, payLatencies, ordersPerMin: placed.length / minutes, steps, temporal: temporalMedians };
    }

    // Warm-up: the first order of each agent registers its flow in Langflow; connections, caches and the JIT warm up.
    say(`warm-up: ${plans.length} order(s), one per agent…`);
    const warm = await phase('warm-up', 1, plans.length);
    say(`sequential: ${perPhase} orders…`);
    const sequential = await phase('sequential', 1, perPhase);
    say(`concurrent: ${perPhase} orders, ${concurrency} at a time…`);
    const concurrent = await phase('concurrent', concurrency, perPhase);
    const load = os.loadavg();

    const f = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '-').padStart(8);
    console.log('\nwebhook received → instance active (ms); pay → active adds the sandbox\'s webhook delivery');
    console.log(`${'phase'.padEnd(12)}${'conc'.padStart(5)}${'orders'.padStart(7)}${'failed'.padStart(7)}      p50      p95      p99      max  pay p50  pay p95  orders/min`);
    for (const r of [warm, sequential, concurrent]) {
      const l = r.latencies;
      console.log(
        `${r.phase.padEnd(12)}${String(r.concurrency).padStart(5)}${String(r.orders).padStart(7)}${String(r.failed).padStart(7)} ` +
        `${f(pct(l, 50))} ${f(pct(l, 95))} ${f(pct(l, 99))} ${f(l[l.length - 1] ?? NaN)} ${f(pct(r.payLatencies, 50))} ${f(pct(r.payLatencies, 95))} ${r.ordersPerMin.toFixed(1).padStart(11)}`,
      );
    }
    console.log('\nmedian step duration (ms)');
    const stepNames = [...new Set([...Object.keys(sequential.steps), ...Object.keys(concurrent.steps)])];
    console.log(`${'step'.padEnd(24)}${'sequential'.padStart(12)}${`c=${concurrency}`.padStart(10)}`);
    for (const s of stepNames) console.log(`${s.padEnd(24)}${f(sequential.steps[s] ?? NaN).padStart(12)}${f(concurrent.steps[s] ?? NaN).padStart(10)}`);
    console.log('\nwhole workflow per order, median of the sums (ms; Temporal history)');
    for (const k of Object.keys(sequential.temporal)) console.log(`${k.padEnd(24)}${f(sequential.temporal[k]!).padStart(12)}${f(concurrent.temporal[k] ?? NaN).padStart(10)}`);
    console.log(`\nload average: ${load.map((v) => v.toFixed(2)).join(', ')} on ${os.cpus().length} cores`);

    const p95 = pct(concurrent.latencies, 95);
    const round = (v: number) => (Number.isFinite(v) ? Math.round(v) : null);
    console.log(JSON.stringify({
      bench: 'provision',
      orders: concurrent.orders,
      concurrency,
      p50_ms: round(pct(concurrent.latencies, 50)),
      p95_ms: round(p95),
      p99_ms: round(pct(concurrent.latencies, 99)),
      failed: concurrent.failed,
      seq_orders: sequential.orders,
      seq_p50_ms: round(pct(sequential.latencies, 50)),
      seq_p95_ms: round(pct(sequential.latencies, 95)),
      seq_failed: sequential.failed,
      pay_to_active_p95_ms: round(pct(concurrent.payLatencies, 95)),
      warmup_max_ms: round(warm.latencies[warm.latencies.length - 1] ?? NaN),
      target_p95_ms: TARGET_P95_MS,
      meets_target: concurrent.failed === 0 && sequential.failed === 0 && p95 < TARGET_P95_MS && pct(sequential.latencies, 95) < TARGET_P95_MS,
      load_avg_1m: Math.round(load[0]! * 100) / 100,
      cores: os.cpus().length,
    }));
  } finally {
    for (const c of cleanup.reverse()) await c().catch((err: unknown) => say(`cleanup: ${String(err)}`));
    await stopAll(services);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
