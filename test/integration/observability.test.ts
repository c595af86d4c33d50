// Operators' view, end to end: real traffic on the test stack (runs, a paid
// order through Saleor's checkout and signed webhook, a forged webhook, an
// order parked for support) with a real Prometheus scraping the API's metrics
// port, a worker health port, the Temporal SDK's worker metrics and the Temporal server
// every second. Then Prometheus's HTTP API: every dashboard query parses and
// returns series, the counters moved by what was done, and the parked-order
// alert is pending (its 10-minute threshold lowered to 0 in a test copy of
// the rules; everything else as deployed).
import fs from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedgerActivities } from '../../activities/ledger';
import { startHealthServer, type HealthServer } from '../../core/metrics/health-server';
import { registerOperationalGauges } from '../../core/metrics/operations';
import { startPrometheus } from '../../deploy/local/observability';
import { rulesDir } from '../../deploy/observability/render-k8s.mjs';
import type { Service } from '../../deploy/local/processes';
import { testLayout } from '../../deploy/local/stack';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';
import { until } from '../support/until';

const layout = testLayout();
// The SDK's metrics for this process's workers (one Runtime per process, installed before any connection).
Runtime.install({
  logger: new DefaultLogger('WARN'),
  telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${layout.ports.workerSdkMetrics}`, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true } } },
});

let p: TestPlatform;
let prometheus: Service;
let health: HealthServer;
let apiMetrics: HealthServer;
let unregister: () => void;
let buyer: string;
let parkedOrderId: string;
let paidOrderId: string;

type Sample = { metric: Record<string, string>; value: [number, string] };
async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: Sample[] } }> {
  const res = await fetch(`${prometheus.url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  return res.json() as Promise<{ status: string; error?: string; data?: { result: Sample[] } }>;
}
const scalar = async (expr: string) => Number((await query(expr)).data?.result[0]?.value[1] ?? NaN);

const orderStatus = async (orderId: string) => (await p.call('GET', `/v1/orders/${encodeURIComponent(orderId)}`, { token: buyer })).body;

beforeAll(async () => {
  p = await startPlatform({ port: layout.ports.api });
  // What the housekeeping worker exports in production: database gauges, and a health port Prometheus scrapes as a worker.
  unregister = registerOperationalGauges(p.clients.db);
  health = await startHealthServer({ host: '127.0.0.1', port: layout.ports.workerHealth, probes: { temporal: () => p.temporal.workflowService.getSystemInfo({}) } });
  // The API's metrics port (api/server.ts serves it on API_METRICS_PORT; its public port has no /metrics).
  apiMetrics = await startHealthServer({ host: '127.0.0.1', port: layout.ports.apiMetrics, probes: {} });
  // The deployed rules, except the parked-order threshold: 0 s instead of 10 minutes, so the alert goes pending here.
  const testRules = path.join(layout.dataDir, 'observability-rules');
  fs.mkdirSync(testRules, { recursive: true });
  for (const f of fs.readdirSync(rulesDir)) {
    let text = fs.readFileSync(path.join(rulesDir, f), 'utf8');
    if (f === 'cmp-alerts.yml') {
      expect(text).toContain('expr: max(cmp_orders_parked_oldest_age_seconds) > 600');
      text = text.replace('expr: max(cmp_orders_parked_oldest_age_seconds) > 600', 'expr: max(cmp_orders_parked_oldest_age_seconds) > 0');
    }
    fs.writeFileSync(path.join(testRules, f), text);
  }
  prometheus = await startPrometheus(layout, {
    scrapeInterval: '1s', evaluationInterval: '1s',
    ruleFiles: fs.readdirSync(testRules).map((f) => path.join(testRules, f)),
    targets: {
      api: [new URL(apiMetrics.url).host],
      workers: [{ taskQueue: 'runs', health: new URL(health.url).host, sdk: `127.0.0.1:${layout.ports.workerSdkMetrics}` }],
      temporal: `127.0.0.1:${layout.ports.temporalMetrics}`,
    },
  });
  buyer = (await loginAs('buyer@cmp.local')).accessToken;
  await p.call('POST', '/v1/orgs/auto', { token: buyer });
  const offerings = (await p.call('GET', '/v1/offerings')).body.items as { id: string }[];
  for (const o of offerings) {
    await p.temporal.workflow.execute('syncCatalogToSaleor', { workflowId: `catalog-sync-${o.id}-${Date.now()}`, taskQueue: p.taskQueues.provisioning, args: [{ offeringId: o.id }] });
  }
}, 240_000);

afterAll(async () => {
  await prometheus?.stop();
  await health?.close();
  await apiMetrics?.close();
  unregister?.();
  await p?.close();
});

describe('operators see what happened', () => {
  it('drives real traffic: a subscription and runs, a paid order, a forged webhook, a parked order', async () => {
    // A free subscription, then runs through the API with a key.
    const sub = await p.call('POST', '/v1/instances', { token: buyer, body: { offering: 'ticket-triage', plan: 'free' } });
    expect(sub.status).toBe(202);
    await until('subscription active', async () => (await orderStatus(sub.body.order_id)).status === 'fulfilled');
    const key = (await p.call('POST', '/v1/api-keys', { token: buyer, body: { name: 'observability' } })).body.secret as string;
    for (let i = 0; i < 3; i++) {
      const run = await p.call('POST', '/v1/runs', { headers: { authorization: `Bearer ${key}` }, body: { agent: 'ticket-triage', input: `Refund please, invoice INV-${i}` } });
      expect(run.status, JSON.stringify(run.body)).toBe(200);
    }

    // A paid order: checkout, pay in the Saleor sandbox, its signed webhook provisions the plan.
    const checkout = await p.call('POST', '/v1/checkout', { token: buyer, body: { items: [{ type: 'plan', offering: 'faq-answerer', plan: 'plus' }] } });
    expect(checkout.status, JSON.stringify(checkout.body)).toBe(201);
    const paid = await fetch(checkout.body.payment_url, { method: 'POST', body: new URLSearchParams({ action: 'pay', return_url: 'http://127.0.0.1:1/return' }), redirect: 'manual' });
    paidOrderId = new URL(paid.headers.get('location')!).searchParams.get('order_id')!;
    await until('paid order fulfilled', async () => (await orderStatus(paidOrderId)).status === 'fulfilled', 60_000, () => orderStatus(paidOrderId));

    // A forged delivery: Saleor's real key id, a signature that is not Saleor's.
    const jwks = (await (await fetch(new URL('/.well-known/jwks.json', p.config.SALEOR_API_URL))).json()) as { keys: { kid: string }[] };
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', b64: false, crit: ['b64'], kid: jwks.keys[0]!.kid })).toString('base64url');
    const forged = await p.call('POST', '/integrations/saleor/webhooks', {
      body: JSON.stringify({ order: { id: 'T3JkZXI6Zm9yZ2Vk' } }),
      headers: {
        'content-type': 'application/json', 'saleor-event': 'order_fully_paid', 'saleor-api-url': p.config.SALEOR_API_URL,
        'saleor-signature': `${header}..${Buffer.from('not a signature').toString('base64url')}`,
      },
    });
    expect(forged.status).toBe(401);
    expect(forged.body.reason).toBe('bad-signature');

    // An order parked for support: the catalog's sha256 of the flow no longer matches the artifact.
    const version = await p.clients.db('offering_versions').where('id', p.versionIds['faq-answerer']).first();
    await p.clients.db('offering_versions').where('id', version.id).update({ sha256: 'f'.repeat(64) });
    const org2 = await loginAs('buyer2@cmp.local');
    await p.call('POST', '/v1/orgs/auto', { token: org2.accessToken });
    const parked = await p.call('POST', '/v1/instances', { token: org2.accessToken, body: { offering: 'faq-answerer', plan: 'free' } });
    parkedOrderId = parked.body.order_id;
    await until('order parked', async () => (await p.clients.db('orders').where('saleor_order_id', parkedOrderId).first())?.status === 'needs_attention');

    // The invariant check housekeeping runs every 15 minutes.
    expect((await createLedgerActivities(p.clients.ledger).checkLedgerInvariants()).violations).toEqual([]);
  }, 240_000);

  it('Prometheus scrapes every target', async () => {
    const targets = await until('targets up', async () => {
      const body = (await (await fetch(`${prometheus.url}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] } };
      const t = body.data.activeTargets;
      return t.length >= 5 && t.every((x) => x.health === 'up') ? t : null;
    }, 60_000, async () => (await (await fetch(`${prometheus.url}/api/v1/targets`)).json()));
    expect(targets.map((t) => t.labels.job).sort()).toEqual(['cmp-api', 'cmp-workers', 'prometheus', 'temporal-sdk', 'temporal-server']);
  });

  it('shows the counters moved by what was done', async () => {
    // Each figure as soon as a scrape has it (a slow scrape on a busy machine may miss a second); this process serves
    // one registry to two targets (the API and a worker health port), so the API's job is counted.
    const settled = async (expr: string, enough: number) => {
      await until(`${expr} >= ${enough}`, async () => (await scalar(expr)) >= enough, 30_000, async () => scalar(expr));
      return scalar(expr);
    };
    expect(await settled('sum(cmp_run_outcomes_total{job="cmp-api",outcome="succeeded"})', 3)).toBe(3);
    expect(await settled('sum(cmp_run_charged_millicredits_total{job="cmp-api"})', 3000)).toBe(3000);
    expect(await settled('sum(cmp_http_requests_total{job="cmp-api",route="/v1/runs",method="POST",status="200"})', 3)).toBe(3);
    expect(await settled('sum(cmp_webhook_deliveries_total{job="cmp-api",result="rejected",reason="bad-signature"})', 1)).toBe(1);
    expect(await settled('sum(cmp_webhook_deliveries_total{job="cmp-api",result=~"accepted|duplicate"})', 1)).toBeGreaterThanOrEqual(1);
    expect(await settled('sum(cmp_ledger_hold_events_total{job="cmp-api",event="placed"})', 3)).toBeGreaterThanOrEqual(3);
    expect(await settled('sum(cmp_ledger_hold_events_total{job="cmp-api",event="settled"})', 3)).toBeGreaterThanOrEqual(3);
    expect(await settled('sum(cmp_order_paid_to_active_seconds_count{job="cmp-api"})', 1)).toBeGreaterThanOrEqual(1);
    expect(await settled('max(cmp_orders{status="needs_attention"})', 1)).toBe(1);
    expect(await settled('max(cmp_orders_parked{step="verify flow artifact"})', 1)).toBe(1);
    expect(await settled('count(cmp_ledger_invariant_check_timestamp_seconds > 0)', 1)).toBeGreaterThanOrEqual(1);
    expect(await scalar('max(cmp_ledger_invariant_violations)')).toBe(0);
    expect(await scalar('time() - max(cmp_ledger_invariant_check_timestamp_seconds)')).toBeLessThan(600);
  }, 120_000);

  it('answers every dashboard query with series', async () => {
    const dir = path.resolve(import.meta.dirname, '../../deploy/observability/dashboards');
    const exprs = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).flatMap((f) =>
      (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] }).panels
        .flatMap((panel) => panel.targets.map((t) => ({ where: `${f} / ${panel.title}`, expr: t.expr }))));
    expect(exprs.length).toBeGreaterThanOrEqual(30);
    // rate() needs two samples of a series: each query gets up to 90 s to return its first.
    const stopAt = Date.now() + 90_000;
    let missing: { where: string; expr: string }[] = [];
    do {
      const results = await Promise.all(exprs.map(async (e) => ({ ...e, answer: await query(e.expr) })));
      for (const r of results) expect(r.answer.status, `${r.where}: ${r.expr}: ${r.answer.error}`).toBe('success');
      missing = results.filter((r) => (r.answer.data?.result.length ?? 0) === 0);
      if (missing.length) await new Promise((r) => setTimeout(r, 1000));
    } while (missing.length && Date.now() < stopAt);
    expect(missing.map((e) => `${e.where}: ${e.expr}`)).toEqual([]);
  }, 150_000);

  it('has the parked-order alert pending, and no alert on the ledger', async () => {
    const alert = await until('parked-order alert pending', async () => {
      const body = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as { data: { alerts: { labels: { alertname: string }; state: string }[] } };
      return body.data.alerts.find((a) => a.labels.alertname === 'CmpOrderParkedForSupport' && a.state === 'pending');
    });
    expect(alert).toMatchObject({ state: 'pending', labels: { severity: 'page' } });
    const body = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as { data: { alerts: { labels: { alertname: string } }[] } };
    expect(body.data.alerts.map((a) => a.labels.alertname)).not.toContain('CmpLedgerInvariantViolated');
  });
});
