// Idempotency-Key on mutating routes (after Stripe's model): the first request
// with a key records its response; the same key and body replays it; the same
// key with another body is 422; a concurrent duplicate while the first is in
// flight is 409. The primary key (principal, key) decides races in PostgreSQL.
import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { IdempotencyKeyStore } from '../../core/idempotency/store';
import { AppError, validation } from '../../core/errors';

const KEY_RE = /^[\x21-\x7e]{1,255}$/;

export function principalOf(req: Request): string | null {
  if (req.apiKey) return `key:${req.apiKey.id}`;
  if (req.user) return `user:${req.user.id}`;
  return null;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function idempotency(keys: IdempotencyKeyStore): RequestHandler {
  return async (req, res, next) => {
    const key = req.header('Idempotency-Key');
    if (key === undefined) return next();
    if (!KEY_RE.test(key)) throw validation('Idempotency-Key must be 1–255 visible ASCII characters', [{ path: 'Idempotency-Key', message: 'invalid' }]);
    const principal = principalOf(req);
    if (!principal) return next();
    const methodPath = `${req.method} ${req.baseUrl}${req.path}`;
    const requestHash = createHash('sha256').update(`${methodPath}\n${canonical(req.body)}`).digest('hex');

    if (!(await keys.claim({ principal, key, methodPath, requestHash }))) {
      const row = await keys.get(principal, key);
      if (!row) throw new AppError('conflict', 'Conflict', 'A request with this Idempotency-Key was just abandoned; retry');
      if (row.requestHash !== requestHash) {
        throw new AppError('idempotency-key-reused', 'Idempotency-Key reused', 'This Idempotency-Key was used with a different request');
      }
      if (row.state === 'in_progress') {
        throw new AppError('conflict', 'Request in progress', 'A request with this Idempotency-Key is still in progress', {}, { 'Retry-After': '1' });
      }
      res.setHeader('Idempotent-Replayed', 'true');
      // Every error this API answers is problem+json (api/middleware/problem.ts); its replay is too.
      if ((row.responseStatus ?? 200) >= 400) res.type('application/problem+json');
      res.status(row.responseStatus ?? 200).json(row.responseBody);
      return;
    }

    // Record the answer before it is sent, so a replay right after sees it; a
    // 5xx releases the key so the client can retry.
    const originalJson = res.json.bind(res);
    res.json = (body: unknown) => {
      const record = res.statusCode >= 500
        ? keys.release(principal, key)
        : keys.complete(principal, key, res.statusCode, body);
      record
        .catch((err: unknown) => req.log?.error({ err }, 'idempotency record not saved'))
        .finally(() => originalJson(body));
      return res;
    };
    res.on('close', () => {
      // A request that ended without a JSON answer (aborted, streamed) must not block its key forever.
      if (!res.writableFinished) keys.release(principal, key, { onlyInProgress: true }).catch(() => undefined);
    });
    next();
  };
}
