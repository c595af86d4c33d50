// HTTP metrics for an Express app: requests by route template (never the raw
// path, so ids stay out of the labels), method and status; a latency
// histogram; requests in flight. Mounted first, it sees every request,
// including those the error handler answers.
import type { Request, RequestHandler } from 'express';
import { Counter, Gauge, Histogram } from 'prom-client';
import { exposition, metricsEnabled, registry } from './registry';

const registers = [registry];
const requests = new Counter({
  name: 'cmp_http_requests_total', help: 'HTTP requests by route template, method and status', labelNames: ['route', 'method', 'status'] as const, registers,
});
const duration = new Histogram({
  name: 'cmp_http_request_duration_seconds', help: 'HTTP request latency by route template and method',
  labelNames: ['route', 'method'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers,
});
const inFlight = new Gauge({ name: 'cmp_http_requests_in_flight', help: 'HTTP requests being served', registers });

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

/** The matched route's template (Express 5: the router's mount path + the route's path), or "unmatched". */
export function routeTemplate(req: Request): string {
  const route = req.route as { path?: unknown } | undefined;
  if (!route || typeof route.path !== 'string') return 'unmatched';
  return `${req.baseUrl}${route.path}` || '/';
}

export function httpMetrics(): RequestHandler {
  return (req, res, next) => {
    if (!metricsEnabled()) return next();
    const t0 = performance.now();
    inFlight.inc();
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight.dec();
      const route = routeTemplate(req);
      const method = METHODS.has(req.method) ? req.method : 'OTHER';
      requests.labels(route, method, String(res.statusCode)).inc();
      duration.labels(route, method).observe((performance.now() - t0) / 1000);
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };
}

/** GET /metrics: the process's registry in Prometheus's text format. */
export const metricsHandler: RequestHandler = async (_req, res) => {
  const { contentType, body } = await exposition();
  res.setHeader('Content-Type', contentType);
  res.end(body);
};
