// How the Saleor sandbox signs and delivers webhooks, the way Saleor 3.23 does:
// a JWS (RS256, detached unencoded payload) in Saleor-Signature, keys at
// /.well-known/jwks.json, async delivery with 2 s connect / 18 s response
// limits, up to 5 retries with backoff base·2ⁿ on network errors and 5xx,
// none on 3xx/4xx. Pending deliveries live in the state file, so a restart
// resumes them.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { FlattenedSign, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Logger } from '../../../core/logger';
import type { DeliveryRecord, StateFile } from './state';
import { newUuid } from './state';

export const CONNECT_TIMEOUT_MS = 2_000;
export const RESPONSE_TIMEOUT_MS = 18_000;
export const MAX_RETRIES = 5;

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** The sandbox's RS256 key: generated once, kept in the data folder. */
export async function loadOrCreateSigningKey(dataDir: string): Promise<SigningKey> {
  const file = path.join(dataDir, 'saleor-sandbox-signing-key.json');
  let privateJwk: JWK;
  if (fs.existsSync(file)) {
    privateJwk = JSON.parse(fs.readFileSync(file, 'utf8')) as JWK;
  } else {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
    privateJwk = await exportJWK(privateKey);
    privateJwk.kid = await calculateJwkThumbprint(privateJwk);
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(privateJwk), { mode: 0o600 });
    fs.renameSync(tmp, file);
  }
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = privateJwk;
  const kid = privateJwk.kid!;
  return {
    kid,
    privateKey: (await importJWK(privateJwk, 'RS256')) as CryptoKey,
    publicJwk: { ...publicJwk, kid, alg: 'RS256', use: 'sig' },
  };
}

/** Saleor-Signature for a body: `<b64url(header)>..<b64url(signature)>`. */
export async function signWebhookBody(body: Buffer, key: { kid: string; privateKey: CryptoKey }): Promise<string> {
  const jws = await new FlattenedSign(new Uint8Array(body))
    .setProtectedHeader({ alg: 'RS256', b64: false, crit: ['b64'], kid: key.kid })
    .sign(key.privateKey);
  return `${jws.protected}..${jws.signature}`;
}

interface PostResult {
  status: number | null;
  error: string | null;
}

/** One POST with Saleor's two limits: connecting, then the whole answer. */
function postOnce(url: string, body: string, headers: Record<string, string>): Promise<PostResult> {
  return new Promise((resolve) => {
    const target = new URL(url);
    const lib = target.protocol === 'https:' ? https : http;
    let settled = false;
    const done = (r: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(responseTimer);
      resolve(r);
    };
    const req = lib.request(target, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => done({ status: res.statusCode ?? null, error: null }));
      res.on('error', (err) => done({ status: res.statusCode ?? null, error: err.message }));
    });
    const connectTimer = setTimeout(() => {
      req.destroy(new Error(`no connection within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    const responseTimer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${RESPONSE_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS + RESPONSE_TIMEOUT_MS);
    req.on('socket', (socket) => {
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once('connect', () => clearTimeout(connectTimer));
    });
    req.on('error', (err) => done({ status: null, error: err.message }));
    req.end(body);
  });
}

export interface DeliveryQueueOptions {
  store: StateFile;
  log: Logger;
  /** Backoff base: retry n waits base·2ⁿ (Saleor: 10 s). */
  retryBaseMs: number;
  headersFor: (d: DeliveryRecord) => Record<string, string>;
}

/** Sends due deliveries one at a time; a timer wakes it at the next due time. */
export class DeliveryQueue {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private current: Promise<void> | undefined;

  constructor(private readonly opts: DeliveryQueueOptions) {}

  enqueue(input: { event: string; orderId: string; targetUrl: string; body: string; signature: string }): DeliveryRecord {
    const record: DeliveryRecord = {
      id: newUuid(),
      ...input,
      state: 'pending',
      retries: 0,
      nextAttemptAt: new Date().toISOString(),
      attempts: [],
      createdAt: new Date().toISOString(),
    };
    this.opts.store.change((s) => s.deliveries.push(record));
    this.kick();
    return record;
  }

  start(): void {
    this.stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.current;
  }

  kick(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.current = this.drain();
    }, 0);
  }

  private async drain(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      for (;;) {
        if (this.stopped) return;
        const now = Date.now();
        const due = this.opts.store.state.deliveries.find((d) => d.state === 'pending' && Date.parse(d.nextAttemptAt) <= now);
        if (!due) break;
        await this.attempt(due);
      }
    } finally {
      this.running = false;
    }
    this.scheduleNext();
  }

  private scheduleNext(): void {
    if (this.stopped) return;
    const pending = this.opts.store.state.deliveries.filter((d) => d.state === 'pending');
    if (pending.length === 0) return;
    const next = Math.min(...pending.map((d) => Date.parse(d.nextAttemptAt)));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.current = this.drain();
    }, Math.max(0, next - Date.now()));
  }

  private async attempt(d: DeliveryRecord): Promise<void> {
    const started = Date.now();
    const result = await postOnce(d.targetUrl, d.body, this.opts.headersFor(d));
    const ok = result.status !== null && result.status >= 200 && result.status < 300;
    // Saleor retries network failures and 5xx only; a 3xx/4xx is the receiver's final word.
    const retryable = !ok && (result.status === null || result.status >= 500);
    this.opts.store.change(() => {
      d.attempts.push({ at: new Date(started).toISOString(), status: result.status, error: result.error, durationMs: Date.now() - started });
      if (ok) d.state = 'delivered';
      else if (!retryable || d.retries >= MAX_RETRIES) d.state = 'failed';
      else {
        d.nextAttemptAt = new Date(Date.now() + this.opts.retryBaseMs * 2 ** d.retries).toISOString();
        d.retries += 1;
      }
    });
    this.opts.log.info(
      { delivery: d.id, event: d.event, orderId: d.orderId, status: result.status, error: result.error, state: d.state, retries: d.retries },
      'webhook delivery attempt',
    );
  }
}
