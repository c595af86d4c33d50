// requireUser / requireRole in the real Express app (problem+json through its
// one error handler), with tokens from Keycloak and users in a fresh
// database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import request from 'supertest';
import { Router, type Express } from 'express';
import { generateKeyPair, SignJWT } from 'jose';
import { createApp } from '../../api/app';
import { requireRole, requireUser } from '../../api/middleware/auth';
import { createKnexUserStore, createTokenVerifier, type UserStore } from '../../core/identity';
import { createLogger } from '../../core/logger';
import type { Db } from '../../core/db';
import { devUsers, loginAs, type OidcTokens } from '../support/oidc';
import { freshDatabase, testConfig } from '../support/stack';

const config = testConfig();
let db: Db;
let drop: () => Promise<void>;
let app: Express;
let users: UserStore;
let buyer: OidcTokens;
let support: OidcTokens;

beforeAll(async () => {
  ({ db, drop } = await freshDatabase());
  users = createKnexUserStore(db);
  const verifier = createTokenVerifier({
    issuer: config.OIDC_ISSUER,
    audience: config.OIDC_AUDIENCE,
    rolesClaim: config.OIDC_ROLES_CLAIM,
    clockToleranceSec: config.OIDC_CLOCK_TOLERANCE_S,
  });
  const router = Router();
  const user = requireUser({ verifier, users });
  router.get('/v1/me', user, (req, res) => {
    res.json(req.user);
  });
  router.get('/v1/support/orders', user, requireRole('support'), (_req, res) => {
    res.json({ items: [] });
  });
  router.get('/v1/admin/things', user, requireRole('admin'), (_req, res) => {
    res.json({ items: [] });
  });
  app = createApp({ logger: createLogger('test', 'silent'), webOrigin: config.WEB_ORIGIN, probes: {}, routers: [router] });
  [buyer, support] = await Promise.all([loginAs('buyer@cmp.local'), loginAs('support@cmp.local')]);
});

afterAll(async () => {
  await drop?.();
});

function expectProblem(res: request.Response, status: number, type: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: `https://cmp.dev/problems/${type}`, status });
}

describe('requireUser', () => {
  it('puts the signed-in user on the request', async () => {
    const res = await request(app).get('/v1/me').set('Authorization', `Bearer ${support.accessToken}`);
    expect(res.status).toBe(200);
    const seeded = devUsers.find((u) => u.email === 'support@cmp.local')!;
    expect(res.body).toMatchObject({ subject: seeded.subject, email: 'support@cmp.local' });
    expect([...res.body.roles].sort()).toEqual(['buyer', 'support']);
    const row = await db('users').where({ oidc_subject: seeded.subject }).first();
    expect(row).toMatchObject({ id: res.body.id, email: 'support@cmp.local', name: seeded.name });
  });

  it('answers 401 problem+json without a token', async () => {
    const res = await request(app).get('/v1/me');
    expectProblem(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="cmp"');
  });

  it('answers 401 for a header that is not a bearer token', async () => {
    for (const header of ['Basic dXNlcjpwYXNz', 'Bearer', `Bearer ${buyer.accessToken} extra`, 'Bearer not a token']) {
      expectProblem(await request(app).get('/v1/me').set('Authorization', header), 401, 'unauthorized');
    }
  });

  it('answers 401 for a forged token', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ email: 'buyer@cmp.local', realm_access: { roles: ['admin'] } })
      .setProtectedHeader({ alg: 'RS256', kid: 'forged' })
      .setIssuer(config.OIDC_ISSUER)
      .setAudience('cmp-api')
      .setSubject(devUsers[0]!.subject)
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await request(app).get('/v1/admin/things').set('Authorization', `Bearer ${forged}`);
    expectProblem(res, 401, 'unauthorized');
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it('answers 401 for the ID token (audience cmp-store, not cmp-api)', async () => {
    expectProblem(await request(app).get('/v1/me').set('Authorization', `Bearer ${buyer.idToken}`), 401, 'unauthorized');
  });
});

describe('requireRole', () => {
  it('answers 403 problem+json when the role is missing', async () => {
    const res = await request(app).get('/v1/support/orders').set('Authorization', `Bearer ${buyer.accessToken}`);
    expectProblem(res, 403, 'forbidden');
    expect(res.body.detail).toMatch(/support/);
  });

  it('lets a user with the role through', async () => {
    const res = await request(app).get('/v1/support/orders').set('Authorization', `Bearer ${support.accessToken}`);
    expect(res.status).toBe(200);
    expectProblem(await request(app).get('/v1/admin/things').set('Authorization', `Bearer ${support.accessToken}`), 403, 'forbidden');
  });
});

describe('first contact', () => {
  it('creates exactly one user row under 20 concurrent first requests', async () => {
    const { accessToken } = await loginAs('buyer2@cmp.local');
    const subject = devUsers.find((u) => u.email === 'buyer2@cmp.local')!.subject;
    expect(await db('users').where({ oidc_subject: subject }).count({ n: '*' })).toEqual([{ n: 0 }]);

    const responses = await Promise.all(Array.from({ length: 20 }, () => request(app).get('/v1/me').set('Authorization', `Bearer ${accessToken}`)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(await db('users').where({ oidc_subject: subject }).count({ n: '*' })).toEqual([{ n: 1 }]);
  });

  it('updates email and name when the identity provider changed them, and only then', async () => {
    const subject = 'c0ffee00-0000-4000-8000-000000000001';
    const created = await users.upsertFromToken({ subject, email: 'old@cmp.local', name: 'Old Name' });
    const same = await users.upsertFromToken({ subject, email: 'old@cmp.local', name: 'Old Name' });
    expect(same).toEqual(created);
    const changed = await users.upsertFromToken({ subject, email: 'new@cmp.local', name: 'New Name' });
    expect(changed).toMatchObject({ id: created.id, email: 'new@cmp.local', name: 'New Name' });
    expect(changed.updatedAt.getTime()).toBeGreaterThanOrEqual(created.updatedAt.getTime());
    expect(await users.findBySubject(subject)).toEqual(changed);
  });

  it('upserts concurrently with changing claims into one row', async () => {
    const subject = 'c0ffee00-0000-4000-8000-000000000002';
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => users.upsertFromToken({ subject, email: `u${i % 2}@cmp.local`, name: null })),
    );
    expect(new Set(results.map((u) => u.id)).size).toBe(1);
    expect(await db('users').where({ oidc_subject: subject }).count({ n: '*' })).toEqual([{ n: 1 }]);
  });
});
