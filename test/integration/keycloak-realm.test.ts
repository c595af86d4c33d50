// Keycloak started by global setup with the realm file imported
// (deploy/keycloak/realm-export.json), signed in to over real HTTP with the
// store's flow (authorization code + PKCE), and its tokens checked by the API's
// verifier (jose against the realm's JWKS, issuer, audience) as in production.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT, type JWK } from 'jose';
import { AppError } from '../../core/errors';
import { createTokenVerifier } from '../../core/identity';
import { devUsers, LoginRefusedError, loginAs, OidcBrowser, refreshTokens, testOidcOptions } from '../support/oidc';
import { testConfig } from '../support/stack';

const config = testConfig();
const issuer = config.OIDC_ISSUER;
const verifier = createTokenVerifier({
  issuer,
  audience: config.OIDC_AUDIENCE,
  rolesClaim: config.OIDC_ROLES_CLAIM,
  clockToleranceSec: config.OIDC_CLOCK_TOLERANCE_S,
});

async function rejected(token: string): Promise<AppError> {
  const err = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).status).toBe(401);
  return err as AppError;
}

/** An authorization request as a client would send it, with the PKCE parameters given. */
async function authorize(pkce: Record<string, string>): Promise<Response> {
  const params = new URLSearchParams({ client_id: 'cmp-store', response_type: 'code', scope: 'openid', redirect_uri: testOidcOptions().redirectUri, state: 'abc', ...pkce });
  return fetch(`${issuer}/protocol/openid-connect/auth?${params}`, { redirect: 'manual' });
}

const audiences = (token: string) => [decodeJwt(token).aud].flat();

describe('Keycloak realm cmp', () => {
  it('publishes discovery for its issuer with the code flow, S256 PKCE, end-session and a public JWKS', async () => {
    const res = await fetch(`${issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/realms\/cmp$/);
    expect(doc.issuer).toBe(issuer);
    expect(doc.code_challenge_methods_supported).toContain('S256');
    expect(doc.end_session_endpoint).toBe(`${issuer}/protocol/openid-connect/logout`);
    const jwks = (await (await fetch(doc.jwks_uri as string)).json()) as { keys: JWK[] };
    expect(jwks.keys.some((k) => k.alg === 'RS256')).toBe(true);
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d');
  });

  it("shows Keycloak's sign-in page, with a link to register", async () => {
    const res = await authorize({ code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('id="kc-form-login"');
    expect(html).toMatch(/login-actions\/registration/);
  });

  it('refuses a code request without PKCE, and one with the plain method', async () => {
    const requests: Record<string, string>[] = [{}, { code_challenge: 'plain-challenge-of-forty-three-characters-1234', code_challenge_method: 'plain' }];
    for (const pkce of requests) {
      const res = await authorize(pkce);
      expect(res.status).toBe(302);
      const back = new URL(res.headers.get('location')!);
      expect(back.origin + back.pathname).toBe(testOidcOptions().redirectUri);
      expect(back.searchParams.get('error')).toBe('invalid_request');
      expect(back.searchParams.has('code')).toBe(false);
    }
  });

  it.each(devUsers.map((u) => [u.email, u] as const))('signs in %s and issues an API access token the verifier accepts', async (_email, user) => {
    const tokens = await loginAs(user.email);
    expect(decodeProtectedHeader(tokens.accessToken)).toMatchObject({ alg: 'RS256' });
    const claims = decodeJwt(tokens.accessToken) as { realm_access: { roles: string[] } };
    expect(claims).toMatchObject({ iss: issuer, sub: user.subject, email: user.email, azp: 'cmp-store' });
    expect(audiences(tokens.accessToken)).toContain('cmp-api');
    for (const role of user.roles) expect(claims.realm_access.roles).toContain(role);

    const verified = await verifier.verify(tokens.accessToken);
    expect(verified).toMatchObject({ subject: user.subject, email: user.email, name: user.name });
    expect([...verified.roles].sort()).toEqual([...user.roles].sort());

    // The ID token is the store's and carries the profile; roles travel in the access token.
    const idToken = decodeJwt(tokens.idToken);
    expect(idToken).toMatchObject({ aud: 'cmp-store', sub: user.subject, email: user.email, name: user.name });
    expect(idToken).not.toHaveProperty('realm_access');
    expect(tokens.refreshToken).toBeTruthy();
  });

  it('gives the support user the support role and the buyer only the buyer role', async () => {
    const [support, buyer] = await Promise.all([loginAs('support@cmp.local'), loginAs('buyer@cmp.local')]);
    expect((await verifier.verify(support.accessToken)).roles).toContain('support');
    expect((await verifier.verify(buyer.accessToken)).roles).toEqual(['buyer']);
  });

  it('refuses a wrong password and an unknown user', async () => {
    await expect(loginAs('buyer@cmp.local', 'not-the-password')).rejects.toBeInstanceOf(LoginRefusedError);
    await expect(loginAs(`nobody-${randomUUID()}@cmp.local`)).rejects.toBeInstanceOf(LoginRefusedError);
  });

  it('registers a visitor on its own page as a buyer, who can then sign in with the new password', async () => {
    const email = `visitor-${randomUUID().slice(0, 8)}@example.com`;
    const password = 'a-long-visitor-passphrase';
    const tokens = await new OidcBrowser().register({ email, password, firstName: 'Vera', lastName: 'Visitor' });
    const verified = await verifier.verify(tokens.accessToken);
    expect(verified).toMatchObject({ email, name: 'Vera Visitor', roles: ['buyer'] });
    expect(audiences(tokens.accessToken)).toContain('cmp-api');
    const again = await loginAs(email, password);
    expect(decodeJwt(again.accessToken).sub).toBe(verified.subject);
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
});

describe('access tokens the verifier rejects', () => {
  it('a token signed by another key under the realm key id', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const { accessToken } = await loginAs('buyer@cmp.local');
    const { kid } = decodeProtectedHeader(accessToken);
    const forged = await new SignJWT({ realm_access: { roles: ['admin'] } })
      .setProtectedHeader({ alg: 'RS256', kid: kid! })
      .setIssuer(issuer)
      .setAudience('cmp-api')
      .setSubject(devUsers[0]!.subject)
      .setExpirationTime('5m')
      .sign(privateKey);
    await rejected(forged);
  });

  it('a token for another audience: the ID token', async () => {
    const { idToken } = await loginAs('buyer@cmp.local');
    expect((await rejected(idToken)).detail).toMatch(/not meant for this API/);
  });

  it('a verifier configured for another issuer refuses the realm tokens', async () => {
    const other = createTokenVerifier({ issuer: `${issuer}-elsewhere`, audience: 'cmp-api', jwksUri: `${issuer}/protocol/openid-connect/certs` });
    const { accessToken } = await loginAs('buyer@cmp.local');
    await expect(other.verify(accessToken)).rejects.toMatchObject({ status: 401 });
  });
});
