// Verifies OIDC access tokens (JWTs) issued by Keycloak (in production and in
// the local stack alike): signature against the issuer's
// JWKS, issuer, audience, expiry. The JWKS location comes from the issuer's
// discovery document, read once and cached by jose (refetched on an unknown
// kid, so key rotation needs no restart).
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AppError } from '../errors';
import { rolesFromClaims, type Role } from './roles';

export interface VerifiedToken {
  subject: string;
  email: string | null;
  name: string | null;
  roles: Role[];
  /** All claims of the verified token, for callers that need more. */
  claims: JWTPayload;
}

export interface TokenVerifier {
  /** Resolves the token's identity; throws AppError 'unauthorized' for any bad token. */
  verify(token: string): Promise<VerifiedToken>;
}

export interface TokenVerifierOptions {
  issuer: string;
  audience: string;
  /** Dotted path of the roles array in the access token. */
  rolesClaim?: string;
  clockToleranceSec?: number;
  /** Skips discovery when the JWKS location is known. */
  jwksUri?: string;
  /** Signing algorithms accepted; the realm signs with RS256. */
  algorithms?: string[];
  /** Bound on each discovery/JWKS request, so a hung issuer fails requests fast. */
  fetchTimeoutMs?: number;
}

const BEARER_CHALLENGE = 'Bearer realm="cmp"';

/** The 401 every rejected token gets; the detail says why without leaking internals. */
export function invalidToken(detail: string): AppError {
  return new AppError('unauthorized', 'Unauthorized', detail, {}, {
    'WWW-Authenticate': `${BEARER_CHALLENGE}, error="invalid_token", error_description="${detail.replace(/"/g, "'")}"`,
  });
}

export function missingToken(): AppError {
  return new AppError('unauthorized', 'Unauthorized', 'A bearer access token is required', {}, { 'WWW-Authenticate': BEARER_CHALLENGE });
}

export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  const rolesClaim = opts.rolesClaim ?? 'realm_access.roles';
  const timeoutDuration = opts.fetchTimeoutMs ?? 5000;
  let keys: Promise<JWTVerifyGetKey> | undefined;

  const resolveKeys = (): Promise<JWTVerifyGetKey> => {
    keys ??= (async () => {
      const jwksUri = opts.jwksUri ?? (await discoverJwksUri(opts.issuer, timeoutDuration));
      return createRemoteJWKSet(new URL(jwksUri), { timeoutDuration });
    })();
    // A failed discovery is not cached: the next request tries again.
    keys.catch(() => {
      keys = undefined;
    });
    return keys;
  };

  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        const getKey = await resolveKeys();
        ({ payload } = await jwtVerify(token, getKey, {
          issuer: opts.issuer,
          audience: opts.audience,
          clockTolerance: opts.clockToleranceSec ?? 30,
          algorithms: opts.algorithms ?? ['RS256'],
          requiredClaims: ['sub', 'exp'],
        }));
      } catch (err) {
        throw toAppError(err);
      }
      return {
        subject: payload.sub!,
        email: typeof payload.email === 'string' ? payload.email : null,
        name: stringClaim(payload, 'name') ?? stringClaim(payload, 'preferred_username'),
        roles: rolesFromClaims(payload, rolesClaim),
        claims: payload,
      };
    },
  };
}

function stringClaim(payload: JWTPayload, name: string): string | null {
  const value = payload[name];
  return typeof value === 'string' && value ? value : null;
}

async function discoverJwksUri(issuer: string, timeoutMs: number): Promise<string> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`OIDC discovery at ${url} answered ${res.status}`);
  const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (doc.issuer !== issuer) throw new Error(`OIDC discovery at ${url} names issuer ${String(doc.issuer)}, expected ${issuer}`);
  if (typeof doc.jwks_uri !== 'string') throw new Error(`OIDC discovery at ${url} has no jwks_uri`);
  return doc.jwks_uri;
}

/** Bad tokens are 401; an unreachable or broken issuer is our upstream's fault (502). */
function toAppError(err: unknown): AppError {
  if (err instanceof joseErrors.JWTExpired) return invalidToken('The access token has expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return invalidToken('The access token is not meant for this API');
    if (err.claim === 'iss') return invalidToken('The access token comes from an unknown issuer');
    return invalidToken(`The access token's ${err.claim} claim is invalid`);
  }
  if (
    err instanceof joseErrors.JWSSignatureVerificationFailed ||
    err instanceof joseErrors.JWKSNoMatchingKey ||
    err instanceof joseErrors.JWKSMultipleMatchingKeys ||
    err instanceof joseErrors.JOSEAlgNotAllowed ||
    err instanceof joseErrors.JOSENotSupported ||
    err instanceof joseErrors.JWSInvalid ||
    err instanceof joseErrors.JWTInvalid ||
    err instanceof joseErrors.JWEInvalid
  ) {
    return invalidToken('The access token is malformed or its signature is not valid');
  }
  // Kept as the cause for the error log, never sent to the client.
  const unavailable = new AppError('upstream-unavailable', 'Identity provider unavailable', 'The access token could not be checked right now; try again');
  unavailable.cause = err;
  return unavailable;
}
