// Traces: one per API request, carried into the workflows it starts and their
// activities by Temporal's OpenTelemetry interceptors (through the workflow's
// headers), so an operator follows a run or an order from the HTTP call to the
// last activity. Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT is set (spans
// go over OTLP/HTTP) or a test passes its own span processor; otherwise no
// tracer provider is installed and nothing records spans, so log lines carry
// no trace id either. Sampling follows the standard OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG (the SDK's default: parentbased_always_on).
import { context, propagation, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { RequestHandler } from 'express';
import { routeTemplate } from '../metrics/http';

export interface Tracing {
  /** False: no provider installed; callers skip their tracing middleware and interceptors. */
  enabled: boolean;
  resource: Resource;
  /** Where finished spans go (the workers hand workflow spans to it through a sink). */
  spanProcessor: SpanProcessor;
  tracer: Tracer;
  /** Interceptors for a Temporal Client: workflow starts and updates carry the caller's trace (none while off). */
  clientInterceptors: { workflow: OpenTelemetryWorkflowClientInterceptor[] };
  shutdown(): Promise<void>;
}

let installed: Tracing | undefined;

/**
 * Installs this process's tracer provider (once; later calls return the first) when there is somewhere to send
 * spans: `spanProcessor` (tests give an in-memory one) or else `otlpEndpoint`. With neither, tracing is off
 * and nothing is installed (a later call with an exporter may still turn it on).
 */
export function initTracing(service: string, opts: { otlpEndpoint?: string; spanProcessor?: SpanProcessor } = {}): Tracing {
  if (installed) return installed;
  const resource = new Resource({ 'service.name': service, 'service.namespace': 'cmp' });
  if (!opts.spanProcessor && !opts.otlpEndpoint) {
    return {
      enabled: false, resource, spanProcessor: new NoopSpanProcessor(), tracer: trace.getTracer('cmp'),
      clientInterceptors: { workflow: [] }, shutdown: async () => undefined,
    };
  }
  const spanProcessor = opts.spanProcessor ?? new BatchSpanProcessor(new OTLPTraceExporter({ url: new URL('/v1/traces', opts.otlpEndpoint).toString() }));
  // No sampler given: the provider builds it from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG.
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const tracer = trace.getTracer('cmp');
  installed = {
    enabled: true, resource, spanProcessor, tracer,
    clientInterceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer })] },
    shutdown: () => provider.shutdown(),
  };
  return installed;
}

/** Express: a server span per request (named by route template once matched), active while the request is handled. */
export function traceRequests(tracing: Tracing): RequestHandler {
  return (req, res, next) => {
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracing.tracer.startSpan(`${req.method} request`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method } }, parent);
    const { traceId, spanId, traceFlags } = span.spanContext();
    // The sampler's decision, so a caller knows whether this trace will exist.
    res.setHeader('traceparent', `00-${traceId}-${spanId}-${traceFlags.toString(16).padStart(2, '0')}`);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const route = routeTemplate(req);
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    context.with(trace.setSpan(parent, span), next);
  };
}
