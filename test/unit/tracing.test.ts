// Log lines written inside a span carry its trace id; the API's server span is
// named by route template and its trace id is answered in `traceparent`.
import { Writable } from 'node:stream';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Router } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../api/app';
import { createLogger } from '../../core/logger';
import { initTracing } from '../../core/observability/tracing';

const exporter = new InMemorySpanExporter();
const tracing = initTracing('cmp-unit', { spanProcessor: new SimpleSpanProcessor(exporter) });

describe('tracing', () => {
  it('puts the active trace id on log lines, and none outside a span', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
    const logger = createLogger('unit', 'info', sink);
    logger.info('outside');
    const traceId = tracing.tracer.startActiveSpan('work', (span) => {
      logger.info('inside');
      span.end();
      return span.spanContext().traceId;
    });
    expect(lines[0]).not.toHaveProperty('trace_id');
    expect(lines[1]).toMatchObject({ msg: 'inside', trace_id: traceId, span_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });

  it('names the API request span by its route and answers its trace id', async () => {
    const router = Router();
    router.get('/v1/things/:id', (_req, res) => res.json({ ok: true }));
    const app = createApp({ logger: createLogger('unit', 'silent'), tracing, webOrigin: 'http://127.0.0.1:3000', probes: {}, routers: [router] });
    const res = await request(app).get('/v1/things/42').set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01').expect(200);
    // The caller's trace continues: same trace id, a new span.
    expect(res.headers.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    const span = exporter.getFinishedSpans().find((s) => s.name === 'GET /v1/things/:id');
    expect(span?.parentSpanId).toBe('b7ad6b7169203331');
    expect(span?.attributes['http.response.status_code']).toBe(200);
  });
});
