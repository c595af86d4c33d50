// A small JSON-over-HTTP call on a keep-alive agent. The run path calls the
// runtime once per run, so reusing warm sockets (no TCP handshake, no fetch
// stream machinery) keeps CMP's own overhead well under a millisecond. A
// streamed run uses the same call with `onText`: a successful answer's body
// goes to it as it arrives, under the same deadline.
import http from 'node:http';
import https from 'node:https';
import { RuntimeTimeoutError, RuntimeUnavailableError } from './agent-runtime';

export interface HttpResponse {
  status: number;
  body: unknown;
  text: string;
}

export interface HttpClient {
  /**
   * With `onText`, a 2xx answer's body is handed to it piece by piece (as UTF-8 text) instead of being collected: the
   * response then has no body and empty text. It resolves when the body ends or `onText` returns true (the caller has
   * what it needs); an error `onText` throws ends the request and rejects with that error.
   */
  request(method: string, url: URL, opts: {
    headers?: Record<string, string>; body?: unknown; timeoutMs: number; signal?: AbortSignal; what: string; onText?: (text: string) => boolean | void;
  }): Promise<HttpResponse>;
  close(): void;
}

export function createHttpClient(maxSockets = 64): HttpClient {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 10_000 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 10_000 }),
  };
  return {
    request(method, url, { headers = {}, body, timeoutMs, signal, what, onText }) {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const transport = url.protocol === 'https:' ? https : http;
      return new Promise<HttpResponse>((resolve, reject) => {
        let settled = false;
        const finish = (fn: () => void) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          fn();
        };
        const req = transport.request(
          url,
          {
            method,
            agent: agents[url.protocol as 'http:' | 'https:'],
            headers: {
              accept: 'application/json',
              ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
              ...headers,
            },
          },
          (res) => {
            res.on('error', (err) => finish(() => reject(new RuntimeUnavailableError(`${what}: ${err.message}`))));
            const status = res.statusCode ?? 0;
            if (onText && status >= 200 && status < 300) {
              res.setEncoding('utf8');
              res.on('data', (text: string) => {
                if (settled) return;
                let done;
                try {
                  done = onText(text);
                } catch (err) {
                  finish(() => reject(err));
                  req.destroy();
                  return;
                }
                if (!done) return;
                finish(() => resolve({ status, body: undefined, text: '' }));
                // The rest of the body drains and the socket goes back to the pool, unless the server keeps it open.
                const drain = setTimeout(() => req.destroy(), 1000);
                res.once('end', () => clearTimeout(drain));
              });
              res.on('end', () => finish(() => resolve({ status, body: undefined, text: '' })));
              return;
            }
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              finish(() => {
                const text = Buffer.concat(chunks).toString('utf8');
                let parsed: unknown = undefined;
                if (text) {
                  try {
                    parsed = JSON.parse(text);
                  } catch {
                    parsed = undefined;
                  }
                }
                resolve({ status, body: parsed, text });
              }),
            );
          },
        );
        // A whole-request deadline (connect + run + body), not an idle timeout: a run that streams nothing for 30 s and one that trickles both end here.
        const timer = setTimeout(() => {
          finish(() => reject(new RuntimeTimeoutError(timeoutMs, what)));
          req.destroy();
        }, timeoutMs);
        const onAbort = () => {
          finish(() => reject(new RuntimeUnavailableError(`${what}: aborted`)));
          req.destroy();
        };
        if (signal?.aborted) onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        req.on('error', (err) => finish(() => reject(new RuntimeUnavailableError(`${what}: ${(err as NodeJS.ErrnoException).code ?? err.message}`))));
        req.end(payload);
      });
    },
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
