// A zero-latency stand-in for Langflow, speaking the subset of its API that
// LangflowRuntime uses, so the run-path benchmark measures CMP and not the
// runtime. It answers every run at once with an echo of the input; it is a
// test double, never a product code path.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export interface FakeRuntime {
  url: string;
  /** Runs answered so far, per flow id or endpoint name. */
  runs: Map<string, number>;
  close(): Promise<void>;
}

interface StoredFlow {
  id: string;
  name: string;
  description: string | null;
  endpoint_name: string | null;
  data: unknown;
  is_component: boolean;
}

export async function startFakeRuntime(opts: { port?: number; apiKey?: string } = {}): Promise<FakeRuntime> {
  const flows = new Map<string, StoredFlow>();
  const runs = new Map<string, number>();

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const path = url.pathname;
      if (req.method === 'GET' && path === '/health_check') return send(res, 200, { status: 'ok', chat: 'ok', db: 'ok' });
      if (opts.apiKey && req.headers['x-api-key'] !== opts.apiKey) return send(res, 403, { detail: 'An API key must be passed as query or header' });
      let body: Record<string, unknown> = {};
      try {
        body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        return send(res, 422, { detail: 'invalid JSON' });
      }

      const run = /^\/api\/v1\/run\/([^/]+)$/.exec(path);
      if (req.method === 'POST' && run) {
        const target = decodeURIComponent(run[1]!);
        const flow = flows.get(target) ?? [...flows.values()].find((f) => f.endpoint_name === target);
        if (!flow && flows.size > 0) return send(res, 404, { detail: `Flow identifier ${target} not found` });
        runs.set(target, (runs.get(target) ?? 0) + 1);
        const text = `echo: ${String(body.input_value ?? '')}`;
        const sessionId = typeof body.session_id === 'string' ? body.session_id : randomUUID();
        const answer = {
          session_id: sessionId,
          outputs: [
            {
              inputs: { input_value: body.input_value },
              outputs: [
                {
                  results: { message: { text, sender: 'Machine', session_id: sessionId, properties: { usage: null } } },
                  outputs: { message: { message: text, type: 'text' } },
                  token_usage: null,
                },
              ],
            },
          ],
        };
        // ?stream=true: what Langflow 1.13 streams for a component that answers in one piece, a single `end` event.
        if (url.searchParams.get('stream') === 'true') {
          res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
          res.end(`${JSON.stringify({ event: 'end', data: { result: answer } })}\n\n`);
          return;
        }
        return send(res, 200, answer);
      }
      if (path === '/api/v1/flows/' && req.method === 'GET') {
        return send(res, 200, [...flows.values()].map(({ data: _data, ...header }) => header));
      }
      if (path === '/api/v1/flows/' && req.method === 'POST') {
        // As Langflow 1.13: a client-chosen id is kept and a taken one refused; a taken name or endpoint is renamed.
        const id = typeof body.id === 'string' ? body.id : randomUUID();
        if (flows.has(id)) return send(res, 400, { detail: 'Id must be unique' });
        const taken = (pick: (f: StoredFlow) => string | null, wanted: string, next: (n: number) => string) => {
          let n = 0;
          let candidate = wanted;
          while ([...flows.values()].some((f) => pick(f) === candidate)) candidate = next(++n);
          return candidate;
        };
        const asked = String(body.name ?? '');
        const name = taken((f) => f.name, asked, (n) => `${asked} (${n})`);
        const askedEndpoint = (body.endpoint_name as string | null | undefined) ?? null;
        const endpoint = askedEndpoint && taken((f) => f.endpoint_name, askedEndpoint, (n) => `${askedEndpoint}-${n}`);
        const flow: StoredFlow = { id, name, description: (body.description as string) ?? null, endpoint_name: endpoint, data: body.data, is_component: false };
        flows.set(flow.id, flow);
        return send(res, 201, flow);
      }
      const one = /^\/api\/v1\/flows\/([^/]+)$/.exec(path);
      if (one) {
        const flow = flows.get(one[1]!);
        if (!flow) return send(res, 404, { detail: 'Flow not found' });
        if (req.method === 'GET') return send(res, 200, flow);
        if (req.method === 'PATCH') {
          Object.assign(flow, Object.fromEntries(Object.entries(body).filter(([k]) => ['name', 'description', 'endpoint_name', 'data'].includes(k))));
          return send(res, 200, flow);
        }
      }
      return send(res, 404, { detail: 'Not Found' });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    runs,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
