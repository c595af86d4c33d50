// With no exporter configured, tracing is off: no provider, no request spans,
// no client, activity or workflow interceptors (none bundled), no trace id on
// log lines (the workers keep a sink that drops what a traced bundle might
// hand it). Once
// on, the answered traceparent carries the sampler's real decision.
import { Writable } from 'node:stream';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Router } from 'express';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { createLogger } from '../../core/logger';
import { initTracing } from '../../core/observability/tracing';
import { bundleInterceptorModules, workerTracingOptions } from '../../workers/tracing';

function app(tracing: ReturnType<typeof initTracing>, logger = createLogger('unit', 'silent')) {
  const router = Router();
  router.get('/v1/things/:id', (req, res) => {
    req.log.info('handling');
    res.json({ ok: true });
  });
  return createApp({ logger, tracing, webOrigin: 'http://127.0.0.1:3000', probes: {}, routers: [router] });
}

const sampler = process.env.OTEL_TRACES_SAMPLER;
afterAll(() => {
  if (sampler === undefined) delete process.env.OTEL_TRACES_SAMPLER;
  else process.env.OTEL_TRACES_SAMPLER = sampler;
});

describe('tracing off', () => {
  it('installs nothing and records nothing without an exporter', async () => {
    const tracing = initTracing('cmp-unit-off');
    expect(tracing.enabled).toBe(false);
    expect(tracing.clientInterceptors.workflow).toEqual([]);
    const options = workerTracingOptions(tracing);
    expect(options.interceptors).toBeUndefined();
    expect(bundleInterceptorModules(false)).toEqual([]);
    expect(bundleInterceptorModules(true)).toHaveLength(1);
    expect(options.sinks).toHaveProperty('exporter.export.fn');

    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
    const res = await request(app(tracing, createLogger('unit', 'info', sink)))
      .get('/v1/things/1').set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01').expect(200);
    expect(res.headers.traceparent).toBeUndefined();
    expect(lines.find((l) => l.msg === 'handling')).toBeDefined();
    for (const line of lines) expect(line).not.toHaveProperty('trace_id');
  });

  it('answers traceparent with the sampler\'s decision once on', async () => {
    process.env.OTEL_TRACES_SAMPLER = 'parentbased_always_off';
    const exporter = new InMemorySpanExporter();
    const tracing = initTracing('cmp-unit-on', { spanProcessor: new SimpleSpanProcessor(exporter) });
    expect(tracing.enabled).toBe(true);
    // A new trace, not sampled: flags 00 and no span exported.
    const fresh = await request(app(tracing)).get('/v1/things/2').expect(200);
    expect(fresh.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    // The caller sampled its trace: parent-based, so this one is too.
    const continued = await request(app(tracing)).get('/v1/things/3').set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01').expect(200);
    expect(continued.headers.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(exporter.getFinishedSpans().map((s) => s.spanContext().traceId)).toEqual(['0af7651916cd43dd8448eb211c80319c']);
  });
});
