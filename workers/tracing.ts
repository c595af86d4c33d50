// The worker side of tracing (core/observability/tracing.ts): activity spans
// (local activities too) under the workflow's, and the sink through which the
// workflow sandbox hands its own spans to this process's span processor. Every
// Worker that runs the CMP workflow bundle registers the sink, because the
// bundle carries the workflow interceptors (workflowInterceptorModules); with
// tracing off the sink drops what it is given and activities get no interceptor.
import { createRequire } from 'node:module';
import {
  OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter, type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerOptions } from '@temporalio/worker';
import type { Tracing } from '../core/observability/tracing';

/** Passed to bundleWorkflowCode (and Worker.create's interceptors.workflowModules) wherever the workflows are bundled. */
export const workflowInterceptorModules = [createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];

const droppingSink: InjectedSinks<OpenTelemetrySinks> = { exporter: { export: { fn: () => undefined, callDuringReplay: false } } };

export function workerTracingOptions(tracing: Tracing): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  if (!tracing.enabled) return { interceptors: { workflowModules: workflowInterceptorModules }, sinks: droppingSink };
  return {
    interceptors: {
      activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
      workflowModules: workflowInterceptorModules,
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
