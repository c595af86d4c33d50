// Run-scoped connector tokens: the run path gives each run of an instance a
// short-lived JWT (HS256, key derived from SIGNING_SECRET, audience
// "cmp-connectors") that the flow presents to the gateway. It names the org,
// the instance and the run, and expires shortly after the run's own deadline.
import { hkdfSync } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { unauthorized } from '../errors';
import type { RunTokenClaims } from './types';

export const RUN_TOKEN_AUDIENCE = 'cmp-connectors';
export const RUN_TOKEN_ISSUER = 'cmp';
/** Tokens live this much past the run's timeout: a tool call started at the last moment still completes. */
export const RUN_TOKEN_MARGIN_MS = 60_000;

const keys = new Map<string, Uint8Array>();
function runTokenKey(signingSecret: string): Uint8Array {
  let key = keys.get(signingSecret);
  if (!key) {
    key = new Uint8Array(hkdfSync('sha256', signingSecret, 'cmp', 'cmp-connector-run-token', 32));
    keys.set(signingSecret, key);
  }
  return key;
}

export interface IssueRunTokenInput extends RunTokenClaims {
  /** The run's timeout; the token expires RUN_TOKEN_MARGIN_MS after it. */
  ttlMs: number;
  signingSecret: string;
  now?: Date;
}

export async function issueRunToken(input: IssueRunTokenInput): Promise<string> {
  const now = Math.floor((input.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ org: input.orgId, instance: input.instanceId, run: input.runId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(RUN_TOKEN_ISSUER)
    .setAudience(RUN_TOKEN_AUDIENCE)
    .setSubject(`run:${input.runId}`)
    .setIssuedAt(now)
    .setExpirationTime(now + Math.ceil((input.ttlMs + RUN_TOKEN_MARGIN_MS) / 1000))
    .sign(runTokenKey(input.signingSecret));
}

/** Checks signature, audience, issuer and expiry; any failure is a 401 that says which. */
export async function verifyRunToken(token: string, signingSecret: string): Promise<RunTokenClaims> {
  try {
    const { payload } = await jwtVerify(token, runTokenKey(signingSecret), { audience: RUN_TOKEN_AUDIENCE, issuer: RUN_TOKEN_ISSUER, algorithms: ['HS256'] });
    const { org, instance, run } = payload as { org?: unknown; instance?: unknown; run?: unknown };
    if (typeof org !== 'string' || typeof instance !== 'string' || typeof run !== 'string') throw unauthorized('The run token lacks its org, instance or run');
    return { orgId: org, instanceId: instance, runId: run };
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw unauthorized('The run token has expired');
    if (err instanceof joseErrors.JOSEError) throw unauthorized('The run token is invalid');
    throw err;
  }
}

/** A token issuer with the platform's secret and gateway URL, for the run path. */
export interface RunTokenIssuer {
  gatewayUrl: string;
  issue(claims: RunTokenClaims & { ttlMs: number }): Promise<string>;
}

export function runTokenIssuer(config: { SIGNING_SECRET: string; API_PUBLIC_URL: string; CONNECTOR_GATEWAY_URL?: string }): RunTokenIssuer {
  return {
    gatewayUrl: (config.CONNECTOR_GATEWAY_URL ?? config.API_PUBLIC_URL).replace(/\/+$/, ''),
    issue: (claims) => issueRunToken({ ...claims, signingSecret: config.SIGNING_SECRET }),
  };
}
