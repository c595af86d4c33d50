// The access-token verifier against an issuer served on loopback: a discovery
// document and a JWKS, with tokens signed by its key or by others.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { AppError } from '../../core/errors';
import { createTokenVerifier, rolesFromClaims } from '../../core/identity';

let server: http.Server;
let issuer: string;
let issuerKey: CryptoKey;
let strangerKey: CryptoKey;
let jwksRequests = 0;
let discoveryDown = false;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  issuerKey = pair.privateKey;
  strangerKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'issuer-key', alg: 'RS256', use: 'sig' };
  server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration' && discoveryDown) {
      res.statusCode = 503;
      res.end('{}');
    } else if (req.url === '/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    } else if (req.url === '/jwks') {
      jwksRequests++;
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const SUBJECT = '0b6f5a3e-8c1d-4f2a-9e7b-1a2b3c4d5e03';

async function token(overrides: JWTPayload = {}, opts: { key?: CryptoKey; kid?: string; alg?: string; expiresIn?: string | number } = {}) {
  return new SignJWT({
    email: 'support@cmp.local',
    name: 'Sam Support',
    realm_access: { roles: ['buyer', 'support', 'offline_access', 'default-roles-cmp'] },
    ...overrides,
  })
    .setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? 'issuer-key', typ: 'at+jwt' })
    .setIssuer((overrides.iss as string) ?? issuer)
    .setAudience((overrides.aud as string) ?? 'cmp-api')
    .setSubject(SUBJECT)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '5m')
    .sign(opts.key ?? issuerKey);
}

const verifier = () => createTokenVerifier({ issuer, audience: 'cmp-api', clockToleranceSec: 5 });

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('createTokenVerifier', () => {
  it('accepts a token of the issuer and reads subject, email, name and the known roles', async () => {
    const verified = await verifier().verify(await token());
    expect(verified).toMatchObject({ subject: SUBJECT, email: 'support@cmp.local', name: 'Sam Support', roles: ['buyer', 'support'] });
  });

  it('reads roles from another claim path when configured', async () => {
    const v = createTokenVerifier({ issuer, audience: 'cmp-api', rolesClaim: 'roles' });
    expect((await v.verify(await token({ roles: ['admin', 'root'] }))).roles).toEqual(['admin']);
  });

  it('rejects an expired token beyond the clock tolerance', async () => {
    const err = await rejection(verifier().verify(await token({}, { expiresIn: Math.floor(Date.now() / 1000) - 60 })));
    expect(err.status).toBe(401);
    expect(err.detail).toMatch(/expired/);
    expect(err.headers['WWW-Authenticate']).toMatch(/^Bearer realm="cmp", error="invalid_token"/);
  });

  it('accepts a token expired within the clock tolerance', async () => {
    const v = createTokenVerifier({ issuer, audience: 'cmp-api', clockToleranceSec: 30 });
    await expect(v.verify(await token({}, { expiresIn: Math.floor(Date.now() / 1000) - 10 }))).resolves.toMatchObject({ subject: SUBJECT });
  });

  it('rejects a token for another audience', async () => {
    const err = await rejection(verifier().verify(await token({ aud: 'cmp-store' })));
    expect(err.status).toBe(401);
    expect(err.detail).toMatch(/not meant for this API/);
  });

  it('rejects a token from another issuer', async () => {
    const err = await rejection(verifier().verify(await token({ iss: 'http://127.0.0.1:1/elsewhere' })));
    expect(err.status).toBe(401);
    expect(err.detail).toMatch(/unknown issuer/);
  });

  it('rejects a token signed by another key under the same kid', async () => {
    const err = await rejection(verifier().verify(await token({}, { key: strangerKey })));
    expect(err.status).toBe(401);
  });

  it('rejects a token signed by another key under an unknown kid', async () => {
    const err = await rejection(verifier().verify(await token({}, { key: strangerKey, kid: 'stranger' })));
    expect(err.status).toBe(401);
  });

  it('rejects unsigned and malformed tokens', async () => {
    const [header, payload] = (await token()).split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.`;
    for (const bad of [none, `${header}.${payload}`, 'not-a-jwt', '']) {
      expect((await rejection(verifier().verify(bad))).status).toBe(401);
    }
  });

  it('rejects a token without a subject', async () => {
    const noSub = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'issuer-key' }).setIssuer(issuer).setAudience('cmp-api').setExpirationTime('5m').sign(issuerKey);
    expect((await rejection(verifier().verify(noSub))).status).toBe(401);
  });

  it('fetches the JWKS once for many verifications', async () => {
    const v = verifier();
    const before = jwksRequests;
    const t = await token();
    await Promise.all(Array.from({ length: 10 }, () => v.verify(t)));
    expect(jwksRequests - before).toBe(1);
  });

  it('answers 502 when the issuer cannot be reached', async () => {
    const down = createTokenVerifier({ issuer: 'http://127.0.0.1:9', audience: 'cmp-api', fetchTimeoutMs: 1000 });
    const err = await rejection(down.verify(await token()));
    expect(err.status).toBe(502);
    expect(err.type).toBe('upstream-unavailable');
  });

  it('retries discovery after a failed one instead of caching the failure', async () => {
    const v = verifier();
    const t = await token();
    discoveryDown = true;
    try {
      expect((await rejection(v.verify(t))).status).toBe(502);
    } finally {
      discoveryDown = false;
    }
    await expect(v.verify(t)).resolves.toMatchObject({ subject: SUBJECT });
  });
});

describe('rolesFromClaims', () => {
  it('follows a dotted path and keeps only buyer, support and admin', () => {
    expect(rolesFromClaims({ realm_access: { roles: ['admin', 'uma_authorization', 'buyer'] } }, 'realm_access.roles')).toEqual(['buyer', 'admin']);
  });

  it('gives no roles when the path is missing or not an array', () => {
    expect(rolesFromClaims({}, 'realm_access.roles')).toEqual([]);
    expect(rolesFromClaims({ realm_access: { roles: 'admin' } }, 'realm_access.roles')).toEqual([]);
    expect(rolesFromClaims({ realm_access: ['admin'] }, 'realm_access.roles')).toEqual([]);
  });
});
