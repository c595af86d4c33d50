// The active span's ids for log lines (pino's mixin). Only the OpenTelemetry
// API: with no tracer provider installed there is never an active span, and
// lines carry nothing extra.
import { trace } from '@opentelemetry/api';

export function logTraceIds(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
