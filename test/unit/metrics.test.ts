// The metrics operators read: HTTP requests labelled by route template (never
// the raw path), the ledger's batches and hold events, the switch that turns
// recording off (bench:runs compares both), and a worker's health port.
import { Router } from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../api/app';
import { AppError } from '../../core/errors';
import type { LedgerObserver } from '../../core/ledger';
import { createLogger } from '../../core/logger';
import { ledgerMetrics, recordRunOutcome, recordWebhookDelivery } from '../../core/metrics/business';
import { startHealthServer } from '../../core/metrics/health-server';
import { registerOperationalGauges } from '../../core/metrics/operations';
import { OperationsStore } from '../../core/metrics/operations-store';
import { registry, setMetricsEnabled } from '../../core/metrics/registry';
import type { Db } from '../../core/db';

const value = async (name: string, labels: Record<string, string> = {}) => {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const v = (metric?.values as { value: number; labels: Record<string, string | number> }[] | undefined)?.find((x) =>
    Object.entries(labels).every(([k, l]) => String(x.labels[k]) === l),
  );
  return v?.value ?? 0;
};

function app() {
  const router = Router();
  router.get('/v1/things/:id', (req, res) => {
    if (req.params.id === 'missing') throw new AppError('not-found', 'Not found', 'no such thing');
    res.json({ id: req.params.id });
  });
  return createApp({ logger: createLogger('test', 'silent'), webOrigin: 'http://127.0.0.1:3000', probes: {}, routers: [router] });
}

afterEach(() => setMetricsEnabled(true));

describe('HTTP metrics', () => {
  it('labels requests by route template, method and status, and serves them at /metrics on the private port only', async () => {
    const a = app();
    const ops = await startHealthServer({ host: '127.0.0.1', port: 0, probes: {} });
    const before = await value('cmp_http_requests_total', { route: '/v1/things/:id', method: 'GET', status: '200' });
    await request(a).get('/v1/things/a1').expect(200);
    await request(a).get('/v1/things/b2').expect(200);
    await request(a).get('/v1/things/missing').expect(404);
    await request(a).get('/no/such/path/12345').expect(404);
    expect(await value('cmp_http_requests_total', { route: '/v1/things/:id', method: 'GET', status: '200' })).toBe(before + 2);
    expect(await value('cmp_http_requests_total', { route: '/v1/things/:id', method: 'GET', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(await value('cmp_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' })).toBeGreaterThanOrEqual(1);
    // The public app has no /metrics: the business figures are for Prometheus only.
    await request(a).get('/metrics').expect(404);
    try {
      const res = await fetch(`${ops.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await res.text();
      expect(text).toContain('cmp_http_request_duration_seconds_bucket{le="0.005",route="/v1/things/:id",method="GET"}');
      expect(text).toMatch(/^cmp_http_requests_in_flight \d+$/m);
      // No raw path (an id) ever becomes a label value.
      expect(text).not.toMatch(/a1|b2|12345/);
    } finally {
      await ops.close();
    }
  });

  it('records nothing while switched off', async () => {
    const a = app();
    const before = await value('cmp_http_requests_total', { route: '/v1/things/:id', method: 'GET', status: '200' });
    const runsBefore = await value('cmp_run_outcomes_total', { outcome: 'succeeded' });
    setMetricsEnabled(false);
    await request(a).get('/v1/things/c3').expect(200);
    recordRunOutcome('succeeded', { chargedMc: 1000 });
    expect(await value('cmp_http_requests_total', { route: '/v1/things/:id', method: 'GET', status: '200' })).toBe(before);
    expect(await value('cmp_run_outcomes_total', { outcome: 'succeeded' })).toBe(runsBefore);
    setMetricsEnabled(true);
    recordRunOutcome('succeeded', { chargedMc: 1000, runtimeSeconds: 0.2 });
    expect(await value('cmp_run_outcomes_total', { outcome: 'succeeded' })).toBe(runsBefore + 1);
  });
});

describe('ledger and webhook metrics', () => {
  it('counts holds placed, settled, released and expired from committed batches only', async () => {
    const get = (event: string) => value('cmp_ledger_hold_events_total', { event });
    const [placed, settled, released, expired] = (await Promise.all(['placed', 'settled', 'released', 'expired'].map(get))) as [number, number, number, number];
    // Only the fields the observer reads (an op's type, a result's ok and an expiry's count).
    type Batch = Parameters<LedgerObserver['batchCommitted']>;
    ledgerMetrics.batchCommitted(
      [{ type: 'hold' }, { type: 'hold' }, { type: 'settle' }, { type: 'release' }, { type: 'expire' }, { type: 'transfer' }] as unknown as Batch[0],
      [{ ok: true }, { ok: false }, { ok: true }, { ok: true }, { ok: true, value: 3 }, { ok: true }] as unknown as Batch[1],
      0.004,
    );
    ledgerMetrics.batchCommitted([{ type: 'hold' }] as unknown as Batch[0], null, 0.5);
    expect(await get('placed')).toBe(placed + 1);
    expect(await get('settled')).toBe(settled + 1);
    expect(await get('released')).toBe(released + 1);
    expect(await get('expired')).toBe(expired + 3);
    expect(await value('cmp_ledger_batch_failures_total')).toBeGreaterThanOrEqual(1);
    const text = await registry.metrics();
    expect(text).toMatch(/cmp_ledger_batch_operations_count \d+/);
    expect(text).toMatch(/cmp_ledger_batch_commit_seconds_bucket\{le="0.005"\} [1-9]/);
  });

  it('counts webhook deliveries by result and rejection reason', async () => {
    const before = await value('cmp_webhook_deliveries_total', { result: 'rejected', reason: 'bad-signature' });
    recordWebhookDelivery('saleor', 'rejected', 'bad-signature');
    expect(await value('cmp_webhook_deliveries_total', { result: 'rejected', reason: 'bad-signature' })).toBe(before + 1);
  });
});

describe('worker health port', () => {
  it('serves /healthz and /metrics, and /readyz follows the readiness check (503 when it fails or hangs)', async () => {
    let state: 'up' | 'down' | 'hung' = 'up';
    const server = await startHealthServer({
      host: '127.0.0.1', port: 0, probeTimeoutMs: 1000,
      probes: { temporal: () => (state === 'up' ? Promise.resolve() : state === 'down' ? Promise.reject(new Error('connection refused')) : new Promise(() => undefined)) },
    });
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      state = 'down';
      const down = await fetch(`${server.url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ status: 'not_ready', checks: { temporal: { ok: false, error: 'connection refused' } } });
      state = 'hung';
      const hung = await fetch(`${server.url}/readyz`);
      expect(hung.status).toBe(503);
      expect(await hung.json()).toMatchObject({ checks: { temporal: { ok: false, error: 'timed out after 1000 ms' } } });
      state = 'up';
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      const metrics = await fetch(`${server.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toContain('# TYPE cmp_run_outcomes_total counter');
      expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe('database gauges', () => {
  it('keep their last values and the scrape answering when a database read fails, and count the failure', async () => {
    const holds = vi.spyOn(OperationsStore.prototype, 'openHolds').mockResolvedValue({ count: 3, oldestAgeSeconds: 40, pastTimeout: 1 });
    const orders = vi.spyOn(OperationsStore.prototype, 'orders').mockResolvedValue({
      byStatus: { provisioning: 2 }, parkedByStep: [{ step: 'deploy', count: 1 }], oldestParkedAgeSeconds: 60, oldestAwaitingActivationSeconds: 90,
    });
    // Read without collecting (a collect would run the gauges' reads again).
    const errors = async (read: string) => (await registry.getSingleMetric('cmp_operations_read_errors_total')!.get()).values.find((v) => v.labels.read === read)?.value ?? 0;
    const unregister = registerOperationalGauges({} as Db);
    try {
      expect(await value('cmp_ledger_open_holds')).toBe(3);
      expect(await value('cmp_orders', { status: 'provisioning' })).toBe(2);
      expect(await errors('holds')).toBe(0);
      holds.mockRejectedValue(new Error('connection refused'));
      orders.mockRejectedValue(new Error('canceling statement due to statement timeout'));
      await new Promise((r) => setImmediate(r)); // the previous scrape's shared read is released
      const text = await registry.metrics();
      expect(text).toMatch(/^cmp_ledger_open_holds 3$/m);
      expect(text).toMatch(/^cmp_orders\{status="provisioning"\} 2$/m);
      expect(text).toMatch(/^cmp_orders_parked\{step="deploy"\} 1$/m);
      expect(await errors('holds')).toBe(1);
      expect(await errors('orders')).toBe(1);
    } finally {
      unregister();
      vi.restoreAllMocks();
    }
  });
});
