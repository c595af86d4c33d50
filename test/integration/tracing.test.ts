// One trace from the API call through the workflow it starts and the
// workflow's activities: an in-memory span exporter in this process (API,
// Temporal client and workers all run here on the real test stack) collects
// what the OpenTelemetry interceptors record, and the trace id the API
// answered with (traceparent) finds every span.
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTracing } from '../../core/observability/tracing';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';

const exporter = new InMemorySpanExporter();
// Installed before the platform, which takes the process's tracing as it finds it.
initTracing('cmp-test', { spanProcessor: new SimpleSpanProcessor(exporter) });

let p: TestPlatform;
let buyer: string;

const traceIdOf = (traceparent: string | null) => {
  expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  return traceparent!.split('-')[1]!;
};

async function spansOf(traceId: string, want: (names: string[]) => boolean, timeoutMs = 30_000): Promise<ReadableSpan[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    if (want(spans.map((s) => s.name))) return spans;
    if (Date.now() > deadline) throw new Error(`trace ${traceId} has only: ${spans.map((s) => s.name).join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  p = await startPlatform();
  buyer = (await loginAs('buyer@cmp.local')).accessToken;
  await p.call('POST', '/v1/orgs/auto', { token: buyer });
}, 240_000);
afterAll(async () => p?.close());

describe('tracing', () => {
  it('one trace spans the subscribe call, purchaseToProvision and its activities', async () => {
    const sub = await p.call('POST', '/v1/instances', { token: buyer, body: { offering: 'ticket-triage', plan: 'free' } });
    expect(sub.status).toBe(202);
    const traceId = traceIdOf(sub.headers.get('traceparent'));
    const spans = await spansOf(traceId, (names) => names.includes('RunWorkflow:purchaseToProvision') && names.includes('RunActivity:activateInstance'), 60_000);
    const names = spans.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining([
      'POST /v1/instances', 'StartWorkflow:purchaseToProvision', 'RunWorkflow:purchaseToProvision', 'RunActivity:registerFlow', 'RunActivity:activateInstance',
    ]));
    // The tree: the server span is the root; the workflow's span descends from the client's start.
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const root = spans.find((s) => s.name === 'POST /v1/instances')!;
    expect(root.parentSpanId).toBeUndefined();
    const ancestors = (s: ReadableSpan): string[] => (s.parentSpanId && byId.get(s.parentSpanId) ? [byId.get(s.parentSpanId)!.name, ...ancestors(byId.get(s.parentSpanId)!)] : []);
    expect(ancestors(spans.find((s) => s.name === 'RunActivity:activateInstance')!)).toEqual(expect.arrayContaining(['RunWorkflow:purchaseToProvision', 'StartWorkflow:purchaseToProvision', 'POST /v1/instances']));
  }, 90_000);

  it('one trace spans a run: the API call, runWithCreditHold and its local activities', async () => {
    // The subscription of the first test must be active before its key can run the agent.
    for (let i = 0; i < 120 && !(await p.clients.db('orders').where({ status: 'fulfilled' }).first()); i++) await new Promise((r) => setTimeout(r, 500));
    const key = (await p.call('POST', '/v1/api-keys', { token: buyer, body: { name: 'tracing' } })).body.secret as string;
    const run = await p.call('POST', '/v1/runs', { headers: { authorization: `Bearer ${key}` }, body: { agent: 'ticket-triage', input: 'My invoice is wrong' } });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    const traceId = traceIdOf(run.headers.get('traceparent'));
    const spans = await spansOf(traceId, (names) => names.includes('RunActivity:finishRun') && names.includes('RunWorkflow:runWithCreditHold'));
    expect(spans.map((s) => s.name)).toEqual(expect.arrayContaining([
      'POST /v1/runs', 'UpdateWithStartWorkflow:result', 'RunWorkflow:runWithCreditHold', 'HandleUpdate:result', 'RunActivity:placeHold', 'RunActivity:executeRun', 'RunActivity:finishRun',
    ]));
  }, 90_000);
});
