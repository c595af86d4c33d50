// A worker's small HTTP port: /metrics (the process's registry), /healthz
// (the process answers) and /readyz (its worker is running and its Temporal
// connection answers within a second; 503 otherwise, so Kubernetes stops
// counting a worker that lost Temporal as ready).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exposition } from './registry';

export interface ReadinessCheck {
  (): Promise<void>;
}

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

const CHECK_TIMEOUT_MS = 1000;

export async function startHealthServer(opts: { host: string; port: number; ready: ReadinessCheck }): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, body: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { status: 'method_not_allowed' });
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/healthz') return send(200, { status: 'ok' });
    if (url === '/readyz') {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)));
      void Promise.race([opts.ready(), timeout])
        .then(() => send(200, { status: 'ready' }), (err: Error) => send(503, { status: 'not_ready', error: err.message }))
        .finally(() => clearTimeout(timer));
      return;
    }
    if (url === '/metrics') {
      void exposition().then(({ contentType, body }) => send(200, body, contentType), (err: Error) => send(500, err.message, 'text/plain'));
      return;
    }
    send(404, { status: 'not_found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
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
