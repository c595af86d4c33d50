// The worker side of tracing (core/observability/tracing.ts): activity spans
// (local activities too) under the workflow's, and the sink through which the
// workflow sandbox hands its own spans to this process's span processor.
// OpenTelemetry's workflow interceptors are bundled only when tracing is on
// (bundleInterceptorModules): even with their spans dropped they cost a run
// about half the runs worker's CPU (docs/benchmarks.md). With tracing off a
// worker gets no interceptor, and a sink that drops whatever a bundle built
// with tracing on might still hand it.
import { createRequire } from 'node:module';
import {
  OpenTelemetryActivityInboundInterceptor, OpenTelemetryActivityOutboundInterceptor, makeWorkflowExporter, type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerOptions } from '@temporalio/worker';
import type { Tracing } from '../core/observability/tracing';

const workflowInterceptorModules = [createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];

/** The workflow interceptor modules to bundle (bundleWorkflowCode's workflowInterceptorModules) for a worker whose tracing is on or off. */
export function bundleInterceptorModules(tracingOn: boolean): string[] {
  return tracingOn ? workflowInterceptorModules : [];
}

const droppingSink: InjectedSinks<OpenTelemetrySinks> = { exporter: { export: { fn: () => undefined, callDuringReplay: false } } };

export function workerTracingOptions(tracing: Tracing): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  if (!tracing.enabled) return { sinks: droppingSink };
  return {
    interceptors: {
      activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
      // Used when the worker bundles the workflows itself (workflowsPath); a prebuilt bundle carries its own.
      workflowModules: workflowInterceptorModules,
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
