// A process's private operations port, never routed from outside: /metrics
// (the process's registry) next to /healthz and /readyz (core/observability/health.ts).
// Each worker serves one (its probe: the worker runs and its Temporal
// connection answers, so Kubernetes stops counting a worker that lost Temporal
// as ready); so does the API (API_METRICS_PORT), whose public port has no /metrics.
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHealthRouter, type Probe } from '../observability/health';
import { metricsHandler } from './http';

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

export async function startHealthServer(opts: { host: string; port: number; probes: Record<string, Probe>; probeTimeoutMs?: number }): Promise<HealthServer> {
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.setHeader('cache-control', 'no-store');
    next();
  });
  app.use(createHealthRouter(opts.probes, { timeoutMs: opts.probeTimeoutMs }));
  app.get('/metrics', metricsHandler);
  app.use((_req, res) => {
    res.status(404).json({ status: 'not_found' });
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(opts.port, opts.host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host}:${port}`,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
