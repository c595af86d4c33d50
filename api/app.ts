// The Express app, built from its ports so tests pass their own. Routers per
// business context are mounted here; nothing else imports from api/. The
// metrics are not served here but on the API's private port (api/server.ts).
import express, { type Express, type Router } from 'express';
import helmet from 'helmet';
import cors from 'cors';
import { randomUUID } from 'node:crypto';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../core/logger';
import { httpMetrics } from '../core/metrics/http';
import { createHealthRouter, type Probe } from '../core/observability/health';
import { traceRequests, type Tracing } from '../core/observability/tracing';
import { notFoundHandler, problemHandler } from './middleware/problem';

export interface AppDeps {
  logger: Logger;
  webOrigin: string;
  probes: Record<string, Probe>;
  /** A server span per request, carried into the workflows it starts (core/observability/tracing.ts); none while tracing is off. */
  tracing?: Tracing;
  /** Business routers, mounted in order after health and before the 404 handler. */
  routers?: Router[];
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(httpMetrics());
  if (deps.tracing?.enabled) app.use(traceRequests(deps.tracing));
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && /^[\w-]{1,64}$/.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
    }),
  );
  app.use(helmet());
  app.use(cors({ origin: deps.webOrigin, credentials: true, exposedHeaders: ['X-Request-Id', 'RateLimit', 'RateLimit-Policy', 'Retry-After'] }));
  app.use(createHealthRouter(deps.probes));
  for (const router of deps.routers ?? []) app.use(router);
  app.use(notFoundHandler);
  app.use(problemHandler);
  return app;
}
