// API clients authenticate with `Authorization: Bearer cmp_live_…` (or the
// X-API-Key header). Sets req.apiKey; no or a bad key is 401, a key without
// the route's scope 403, both problem+json.
import type { RequestHandler } from 'express';
import { ApiKeyStore, type ApiKey, type ApiKeyScope } from '../../core/api-keys/store';
import { forbidden, unauthorized } from '../../core/errors';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      apiKey?: ApiKey;
    }
  }
}

export function presentedApiKey(header: string | undefined, xApiKey: string | undefined): string | undefined {
  if (xApiKey) return xApiKey.trim();
  const m = /^Bearer\s+(cmp_live_\S+)$/i.exec(header ?? '');
  return m?.[1];
}

export function requireApiKey(keys: ApiKeyStore, scope: ApiKeyScope = 'runs'): RequestHandler {
  return async (req, _res, next) => {
    const presented = presentedApiKey(req.header('authorization'), req.header('x-api-key'));
    if (!presented) throw unauthorized('Send your API key as "Authorization: Bearer cmp_live_…"');
    const key = await keys.authenticate(presented);
    if (!key) throw unauthorized('The API key is invalid or revoked');
    if (!key.scopes.includes(scope)) throw forbidden(`The API key lacks the "${scope}" scope; create a key with it in your workspace`);
    req.apiKey = key;
    next();
  };
}

/** A route both API keys and signed-in users call (the key is recognised by its prefix or the X-API-Key header). */
export function apiKeyOrUser(withKey: RequestHandler, withUser: RequestHandler): RequestHandler {
  return (req, res, next) => {
    const auth = req.header('authorization') ?? '';
    if (/^Bearer\s+cmp_live_/i.test(auth) || req.header('x-api-key')) return withKey(req, res, next);
    return withUser(req, res, next);
  };
}
