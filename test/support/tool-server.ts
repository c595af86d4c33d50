// A local HTTP "outside tool" for the connector tests: a tiny ticketing API
// that checks its API key, records what it received (so a test can prove the
// secret arrived), and has endpoints that fail, redirect, stall or answer too much.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface ToolServer {
  url: string;
  port: number;
  received: ReceivedRequest[];
  /** Make /flaky answer 503 this many more times. */
  failNext(n: number): void;
  close(): Promise<void>;
}

export async function startToolServer(opts: { apiKeyHeader?: string; apiKey: string }): Promise<ToolServer> {
  const header = (opts.apiKeyHeader ?? 'x-tool-key').toLowerCase();
  const received: ReceivedRequest[] = [];
  let failures = 0;
  let nextTicket = 1;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://tool.local');
      received.push({ method: req.method ?? 'GET', path: url.pathname + url.search, headers: req.headers, body });
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.headers[header] !== opts.apiKey) return json(401, { error: 'bad api key' });
      const item = /^\/api\/items\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && item) return json(200, { id: decodeURIComponent(item[1]!), name: `Item ${decodeURIComponent(item[1]!)}`, q: url.searchParams.get('q') });
      if (req.method === 'POST' && url.pathname === '/api/tickets') {
        const parsed = JSON.parse(body || '{}') as { subject?: string };
        return json(201, { ticket_id: `T-${nextTicket++}`, subject: parsed.subject ?? null });
      }
      if (url.pathname === '/api/flaky') {
        if (failures > 0) {
          failures--;
          return json(503, { error: 'try later' });
        }
        return json(200, { ok: true });
      }
      if (url.pathname === '/api/redirect') {
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/api/items/1' });
        return res.end();
      }
      if (url.pathname === '/api/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('x'.repeat(2 * 1024 * 1024));
      }
      if (url.pathname === '/api/slow') {
        setTimeout(() => json(200, { slow: true }), 5_000).unref();
        return;
      }
      json(404, { error: 'no such endpoint' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, port, received,
    failNext: (n) => (failures = n),
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
