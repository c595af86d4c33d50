// API clients authenticate with `Authorization: Bearer cmp_live_…` (or the
// X-API-Key header). Sets req.apiKey; anything else is 401 problem+json.
import type { RequestHandler } from 'express';
import { ApiKeyStore, type ApiKey } from '../../core/api-keys/store';
import { unauthorized } from '../../core/errors';

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

export function requireApiKey(keys: ApiKeyStore, scope = 'runs'): RequestHandler {
  return async (req, _res, next) => {
    const presented = presentedApiKey(req.header('authorization'), req.header('x-api-key'));
    if (!presented) throw unauthorized('Send your API key as "Authorization: Bearer cmp_live_…"');
    const key = await keys.authenticate(presented);
    if (!key) throw unauthorized('The API key is invalid or revoked');
    if (!key.scopes.includes(scope)) throw unauthorized(`The API key lacks the "${scope}" scope`);
    req.apiKey = key;
    next();
  };
}
