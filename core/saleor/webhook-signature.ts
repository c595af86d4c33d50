// Verifies a Saleor webhook delivery before anyone acts on it. Saleor signs the
// raw body with a JWS whose payload is detached and unencoded (RFC 7797):
//   Saleor-Signature: <b64url(protected header)>..<b64url(signature)>
//   protected header: {"alg":"RS256","b64":false,"crit":["b64"],"kid":…}
//   signing input:    b64url(protected header) + "." + raw body bytes
// so the raw bytes must reach us untouched (no JSON re-serialising first).
// Keys come from <Saleor origin>/.well-known/jwks.json.
import { createRemoteJWKSet, flattenedVerify, errors as joseErrors, type FlattenedVerifyGetKey } from 'jose';
import { AppError, type ProblemType } from '../errors';
import { SALEOR_EVENTS } from './contract';

export type SaleorWebhookRejection =
  | 'missing-header'
  | 'malformed-signature'
  | 'unexpected-event'
  | 'wrong-api-url'
  | 'malformed-payload'
  | 'bad-signature'
  | 'unknown-key'
  | 'jwks-unavailable';

const problemFor: Record<SaleorWebhookRejection, ProblemType> = {
  'missing-header': 'validation',
  'malformed-signature': 'validation',
  'unexpected-event': 'validation',
  'wrong-api-url': 'validation',
  'malformed-payload': 'validation',
  'bad-signature': 'unauthorized',
  'unknown-key': 'unauthorized',
  // Our side cannot check now: a 503 makes Saleor retry the delivery later.
  'jwks-unavailable': 'service-unavailable',
};

/** A rejected delivery: 400-class when malformed, 401 when the signature or key is wrong, 503 when the JWKS is unreachable. */
export class SaleorWebhookError extends AppError {
  constructor(
    readonly reason: SaleorWebhookRejection,
    detail: string,
  ) {
    super(problemFor[reason], 'Saleor webhook rejected', detail, { reason });
    this.name = 'SaleorWebhookError';
  }
}

export interface VerifiedSaleorWebhook<T = unknown> {
  event: string;
  apiUrl: string;
  domain: string | null;
  /** The key id that signed the delivery. */
  kid: string | undefined;
  payload: T;
}

export type WebhookHeaders = Record<string, string | string[] | undefined> | Headers;

export interface SaleorWebhookVerifierOptions {
  /** The configured Saleor GraphQL URL; deliveries must name it in Saleor-Api-Url. */
  saleorApiUrl: string;
  /** Defaults to `<origin of saleorApiUrl>/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Lower-case Saleor-Event values accepted; ORDER_FULLY_PAID by default. */
  events?: readonly string[];
  /**
   * Minimum time between two JWKS fetches triggered by an unknown kid, so
   * deliveries with forged kids cannot make us hammer Saleor. Default 30 s.
   */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is trusted without refetching. Default 10 min. */
  jwksCacheMaxAgeMs?: number;
  /** Inject a key set (tests); otherwise a remote JWKS with cache and cooldown. */
  keySet?: FlattenedVerifyGetKey;
}

export interface SaleorWebhookVerifier {
  verify<T = unknown>(rawBody: Buffer, headers: WebhookHeaders): Promise<VerifiedSaleorWebhook<T>>;
}

export function defaultJwksUrl(saleorApiUrl: string): string {
  return new URL('/.well-known/jwks.json', saleorApiUrl).toString();
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const h = headers as Record<string, string | string[] | undefined>;
  const value = h[name] ?? h[name.toLowerCase()] ?? Object.entries(h).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
  return Array.isArray(value) ? value[0] : value;
}

const normaliseUrl = (u: string) => {
  const parsed = new URL(u);
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
};

function decodeProtectedHeader(encoded: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    /* reported below */
  }
  throw new SaleorWebhookError('malformed-signature', 'Saleor-Signature protected header is not base64url JSON');
}

export function createSaleorWebhookVerifier(opts: SaleorWebhookVerifierOptions): SaleorWebhookVerifier {
  const expectedApiUrl = normaliseUrl(opts.saleorApiUrl);
  const events = new Set(opts.events ?? [SALEOR_EVENTS.orderFullyPaid]);
  const keySet: FlattenedVerifyGetKey =
    opts.keySet ??
    (createRemoteJWKSet(new URL(opts.jwksUrl ?? defaultJwksUrl(opts.saleorApiUrl)), {
      cooldownDuration: opts.jwksCooldownMs ?? 30_000,
      cacheMaxAge: opts.jwksCacheMaxAgeMs ?? 600_000,
      timeoutDuration: 5_000,
    }) as FlattenedVerifyGetKey);

  return {
    async verify<T>(rawBody: Buffer, headers: WebhookHeaders): Promise<VerifiedSaleorWebhook<T>> {
      const event = header(headers, 'saleor-event');
      const apiUrl = header(headers, 'saleor-api-url');
      const signature = header(headers, 'saleor-signature');
      for (const [name, value] of [['Saleor-Event', event], ['Saleor-Api-Url', apiUrl], ['Saleor-Signature', signature]] as const) {
        if (!value) throw new SaleorWebhookError('missing-header', `${name} header is missing`);
      }
      if (!events.has(event!)) throw new SaleorWebhookError('unexpected-event', `Saleor-Event ${event} is not one this endpoint accepts`);
      let sameSaleor = false;
      try {
        sameSaleor = normaliseUrl(apiUrl!) === expectedApiUrl;
      } catch {
        /* not a URL: reported below */
      }
      if (!sameSaleor) throw new SaleorWebhookError('wrong-api-url', `Saleor-Api-Url ${apiUrl} is not the configured Saleor`);

      const parts = signature!.split('.');
      if (parts.length !== 3 || parts[1] !== '' || !parts[0] || !parts[2]) {
        throw new SaleorWebhookError('malformed-signature', 'Saleor-Signature must be a detached JWS: <header>..<signature>');
      }
      const protectedHeader = decodeProtectedHeader(parts[0]);
      const crit = protectedHeader.crit;
      if (protectedHeader.alg !== 'RS256' || protectedHeader.b64 !== false || !Array.isArray(crit) || !crit.includes('b64')) {
        throw new SaleorWebhookError('malformed-signature', 'Saleor-Signature header must be {"alg":"RS256","b64":false,"crit":["b64"]}');
      }

      try {
        await flattenedVerify({ protected: parts[0], payload: rawBody, signature: parts[2] }, keySet, { algorithms: ['RS256'] });
      } catch (err) {
        if (err instanceof joseErrors.JWKSNoMatchingKey) throw new SaleorWebhookError('unknown-key', `no Saleor key with kid ${String(protectedHeader.kid)}`);
        if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new SaleorWebhookError('bad-signature', 'Saleor-Signature does not match the body');
        if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid || (err as Error).name === 'TypeError') {
          throw new SaleorWebhookError('jwks-unavailable', `Saleor's JWKS could not be read: ${(err as Error).message}`);
        }
        if (err instanceof joseErrors.JOSEError) throw new SaleorWebhookError('bad-signature', `Saleor-Signature rejected: ${err.message}`);
        throw new SaleorWebhookError('jwks-unavailable', `Saleor's JWKS could not be read: ${(err as Error).message}`);
      }

      let payload: T;
      try {
        payload = JSON.parse(rawBody.toString('utf8')) as T;
      } catch {
        throw new SaleorWebhookError('malformed-payload', 'webhook body is not JSON');
      }
      return {
        event: event!,
        apiUrl: apiUrl!,
        domain: header(headers, 'saleor-domain') ?? null,
        kid: typeof protectedHeader.kid === 'string' ? protectedHeader.kid : undefined,
        payload,
      };
    },
  };
}
