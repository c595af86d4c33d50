// The dev OIDC provider started by global setup, signed in to over real HTTP
// with the store's flow (authorization code + PKCE), and its tokens checked by
// the API's verifier exactly as Keycloak's would be.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, type JWK } from 'jose';
import { AppError } from '../../core/errors';
import { createTokenVerifier } from '../../core/identity';
import { httpOk, startProcess } from '../../deploy/local/processes';
import { repoRoot, stackEnv, testLayout } from '../../deploy/local/stack';
import { devUsers, LoginRefusedError, loginAs, OidcBrowser, refreshTokens, testOidcOptions } from '../support/oidc';
import { testConfig } from '../support/stack';

const config = testConfig();
const verifier = createTokenVerifier({
  issuer: config.OIDC_ISSUER,
  audience: config.OIDC_AUDIENCE,
  rolesClaim: config.OIDC_ROLES_CLAIM,
  clockToleranceSec: config.OIDC_CLOCK_TOLERANCE_S,
});

/** The provider's own signing key, read from its data folder: valid signatures on tokens it never issued. */
async function providerSigningKey() {
  const stored = JSON.parse(fs.readFileSync(path.join(testLayout().dataDir, 'oidc/keys.json'), 'utf8')) as { signingKeys: JWK[] };
  const jwk = stored.signingKeys[0]!;
  return { key: await importJWK(jwk, 'RS256'), kid: jwk.kid! };
}

async function rejected(token: string): Promise<AppError> {
  const err = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).status).toBe(401);
  return err as AppError;
}

describe('dev OIDC provider', () => {
  it('publishes discovery for its issuer with code flow, S256 PKCE and a JWKS', async () => {
    const res = await fetch(`${config.OIDC_ISSUER}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc.issuer).toBe(config.OIDC_ISSUER);
    expect(doc.response_types_supported).toEqual(['code']);
    expect(doc.code_challenge_methods_supported).toEqual(['S256']);
    expect(doc.end_session_endpoint).toBe(`${config.OIDC_ISSUER}/session/end`);
    const jwks = (await (await fetch(doc.jwks_uri as string)).json()) as { keys: JWK[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('shows a sign-in page that names the development password', async () => {
    const browserless = await fetch(
      `${config.OIDC_ISSUER}/auth?${new URLSearchParams({
        client_id: 'cmp-store',
        response_type: 'code',
        scope: 'openid',
        redirect_uri: testOidcOptions().redirectUri,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      })}`,
      { redirect: 'manual' },
    );
    expect(browserless.status).toBe(303);
    const page = await fetch(new URL(browserless.headers.get('location')!, config.OIDC_ISSUER), {
      headers: { cookie: browserless.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ') },
    });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('<form method="post"');
    expect(html).toContain('cmp-dev');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });

  it('refuses an authorization request without PKCE', async () => {
    const res = await fetch(
      `${config.OIDC_ISSUER}/auth?${new URLSearchParams({ client_id: 'cmp-store', response_type: 'code', scope: 'openid', redirect_uri: testOidcOptions().redirectUri })}`,
      { redirect: 'manual' },
    );
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it.each(devUsers.map((u) => [u.email, u] as const))('signs in %s and issues an API access token the verifier accepts', async (_email, user) => {
    const tokens = await loginAs(user.email);
    expect(decodeProtectedHeader(tokens.accessToken)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    const claims = decodeJwt(tokens.accessToken);
    expect(claims).toMatchObject({ iss: config.OIDC_ISSUER, aud: 'cmp-api', sub: user.subject, email: user.email, realm_access: { roles: user.roles } });

    const verified = await verifier.verify(tokens.accessToken);
    expect(verified).toMatchObject({ subject: user.subject, email: user.email, name: user.name });
    expect([...verified.roles].sort()).toEqual([...user.roles].sort());

    // The ID token is for the store and carries the profile; roles stay in the access token, as in Keycloak.
    const idToken = decodeJwt(tokens.idToken);
    expect(idToken).toMatchObject({ aud: 'cmp-store', sub: user.subject, email: user.email, name: user.name });
    expect(idToken).not.toHaveProperty('realm_access');
    expect(tokens.refreshToken).toBeTruthy();
  });

  it('gives the support user the support role and the buyer none', async () => {
    const [support, buyer] = await Promise.all([loginAs('support@cmp.local'), loginAs('buyer@cmp.local')]);
    expect((await verifier.verify(support.accessToken)).roles).toContain('support');
    expect((await verifier.verify(buyer.accessToken)).roles).toEqual(['buyer']);
  });

  it('refuses a wrong password and an unknown user', async () => {
    await expect(loginAs('buyer@cmp.local', 'not-the-password')).rejects.toBeInstanceOf(LoginRefusedError);
    await expect(loginAs('nobody@cmp.local')).rejects.toBeInstanceOf(LoginRefusedError);
  });

  it('refreshes into a new API access token', async () => {
    const tokens = await loginAs('buyer2@cmp.local');
    const refreshed = await refreshTokens(tokens.refreshToken);
    expect(refreshed.accessToken).not.toBe(tokens.accessToken);
    expect(await verifier.verify(refreshed.accessToken)).toMatchObject({ email: 'buyer2@cmp.local', roles: ['buyer'] });
  });

  it('keeps the browser session until logout, then asks for the password again', async () => {
    const browser = new OidcBrowser();
    const first = await browser.login('admin@cmp.local');
    const silent = await browser.authorize();
    expect(decodeJwt(silent.accessToken).sub).toBe(decodeJwt(first.accessToken).sub);

    const back = await browser.logout(first.idToken);
    expect(back).toBe(`${new URL(config.WEB_ORIGIN).origin}/`);
    await expect(browser.authorize()).rejects.toThrow(/asked for a sign-in/);
    // The refresh token died with the session.
    await expect(refreshTokens(first.refreshToken)).rejects.toThrow();
  });

  it('signs in in well under a second', async () => {
    await loginAs('buyer@cmp.local');
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 5 }, () => loginAs('buyer@cmp.local')));
    const perLogin = (performance.now() - t0) / 5;
    console.log(`loginAs: ${perLogin.toFixed(1)} ms per sign-in (5 in parallel)`);
    expect(perLogin).toBeLessThan(2000);
  });
});

describe('restarting the provider', () => {
  it('keeps its signing keys: a provider started on the same data folder verifies earlier tokens', async () => {
    const { accessToken } = await loginAs('buyer@cmp.local');
    const layout = testLayout();
    // Another port, same issuer name and data folder: what a restart of the provider sees.
    const port = layout.ports.oidc + 5;
    const restarted = await startProcess({
      name: 'oidc-restarted',
      command: path.join(repoRoot, 'node_modules/.bin/tsx'),
      args: [path.join(repoRoot, 'deploy/local/oidc/server.ts')],
      env: { ...stackEnv(layout), OIDC_PORT: String(port), OIDC_DATA_DIR: path.join(layout.dataDir, 'oidc') },
      cwd: repoRoot,
      logDir: layout.logDir,
      url: `http://127.0.0.1:${port}`,
      ready: () => httpOk(`http://127.0.0.1:${port}/jwks`),
    });
    try {
      const again = createTokenVerifier({ issuer: config.OIDC_ISSUER, audience: 'cmp-api', jwksUri: `http://127.0.0.1:${port}/jwks` });
      expect(await again.verify(accessToken)).toMatchObject({ email: 'buyer@cmp.local' });
    } finally {
      await restarted.stop();
    }
  });
});

describe('access tokens the verifier rejects', () => {
  it('a token signed by another key', async () => {
    const { privateKey } = await (await import('jose')).generateKeyPair('RS256');
    const { kid } = await providerSigningKey();
    const forged = await new SignJWT({ realm_access: { roles: ['admin'] } })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(config.OIDC_ISSUER)
      .setAudience('cmp-api')
      .setSubject(devUsers[0]!.subject)
      .setExpirationTime('5m')
      .sign(privateKey);
    await rejected(forged);
  });

  it('an expired token, even with the provider signature', async () => {
    const { key, kid } = await providerSigningKey();
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(config.OIDC_ISSUER)
      .setAudience('cmp-api')
      .setSubject(devUsers[0]!.subject)
      .setIssuedAt(now - 3600)
      .setExpirationTime(now - 600)
      .sign(key);
    expect((await rejected(expired)).detail).toMatch(/expired/);
  });

  it('a token for another audience: the ID token', async () => {
    const { idToken } = await loginAs('buyer@cmp.local');
    expect((await rejected(idToken)).detail).toMatch(/not meant for this API/);
  });

  it('a token from another issuer, even with the provider signature', async () => {
    const { key, kid } = await providerSigningKey();
    const foreign = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer('http://127.0.0.1:1/realms/other')
      .setAudience('cmp-api')
      .setSubject(devUsers[0]!.subject)
      .setExpirationTime('5m')
      .sign(key);
    expect((await rejected(foreign)).detail).toMatch(/unknown issuer/);
  });

  it('a verifier configured for another issuer refuses the provider tokens', async () => {
    const other = createTokenVerifier({ issuer: `${config.OIDC_ISSUER}/elsewhere`, audience: 'cmp-api', jwksUri: `${config.OIDC_ISSUER}/jwks` });
    const { accessToken } = await loginAs('buyer@cmp.local');
    await expect(other.verify(accessToken)).rejects.toMatchObject({ status: 401 });
  });
});
