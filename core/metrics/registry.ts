// The process's metrics registry (prom-client). One per process: the API and
// each worker serve it at /metrics. Recording can be switched off at run time
// (CMP_METRICS=off, or setMetricsEnabled), so bench:runs can compare the run
// path with and without metrics in one run; switched off, every recorder
// returns at its first line and the HTTP middleware calls next() at once.
import { Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

let enabled = process.env.CMP_METRICS !== 'off';

export const metricsEnabled = (): boolean => enabled;

export function setMetricsEnabled(on: boolean): void {
  enabled = on;
}

/** The exposition text and its content type, for a /metrics handler. */
export async function exposition(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
