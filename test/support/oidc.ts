// Real sign-in against the running Keycloak (the test layout's realm: localRealm in deploy/local/stack.ts),
// as a browser and the store's server would do it: openid-client (the library
// the store uses) for discovery, PKCE and the token exchange; plain HTTP with a
// cookie jar for the browser's part (authorize → Keycloak's sign-in or
// registration form → callback). This is how integration tests get access
// tokens: the same flow as the store, no test-only client or grant in the realm.
import fs from 'node:fs';
import * as client from 'openid-client';
import { devUsersPath } from '../../deploy/local/stack';
import type { Role } from '../../core/identity';
import { testConfig } from './stack';

/** The seeded users' password (development only), as the README says. */
export const DEV_PASSWORD = 'cmp-dev';

export interface DevUser {
  /** Keycloak's user id: the token's sub. */
  subject: string;
  email: string;
  name: string;
  roles: Role[];
}

interface RealmUser {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  realmRoles: string[];
}

/** The local realm's seeded users; `default-roles-cmp` makes each a buyer. */
export const devUsers: readonly DevUser[] = (JSON.parse(fs.readFileSync(devUsersPath, 'utf8')) as RealmUser[]).map((u) => ({
  subject: u.id,
  email: u.email,
  name: `${u.firstName} ${u.lastName}`,
  roles: ['buyer', ...u.realmRoles.filter((r): r is Role => r === 'support' || r === 'admin')],
}));

export interface OidcTokens {
  accessToken: string;
  idToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
}

export interface OidcClientOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

/** Keycloak showed the sign-in form again: wrong email or password. */
export class LoginRefusedError extends Error {
  constructor(readonly email: string) {
    super(`Keycloak refused the sign-in of ${email}`);
    this.name = 'LoginRefusedError';
  }
}

/** The test stack's Keycloak realm and the store's client registration. */
export function testOidcOptions(): OidcClientOptions {
  const config = testConfig();
  return {
    issuer: config.OIDC_ISSUER,
    clientId: config.OIDC_CLIENT_ID,
    clientSecret: config.OIDC_CLIENT_SECRET,
    redirectUri: `${new URL(config.WEB_ORIGIN).origin}/auth/callback`,
  };
}

const configurations = new Map<string, Promise<client.Configuration>>();

/** openid-client's view of the realm, discovered once per issuer and client. */
export function oidcConfiguration(opts: OidcClientOptions = testOidcOptions()): Promise<client.Configuration> {
  const key = `${opts.issuer} ${opts.clientId}`;
  let found = configurations.get(key);
  if (!found) {
    found = client.discovery(new URL(opts.issuer), opts.clientId, undefined, client.ClientSecretBasic(opts.clientSecret), {
      // The local Keycloak speaks plain HTTP on loopback.
      execute: [client.allowInsecureRequests],
    });
    found.catch(() => configurations.delete(key));
    configurations.set(key, found);
  }
  return found;
}

/**
 * A browser with its own cookies. One instance is one user agent: after
 * login(), its Keycloak session lets authorize() sign in again silently, and
 * logout() ends that session.
 */
export class OidcBrowser {
  private readonly cookies = new Map<string, string>();

  constructor(readonly opts: OidcClientOptions = testOidcOptions()) {}

  /** The authorization code flow with PKCE, signing in with the form when asked. */
  async login(email: string, password = DEV_PASSWORD): Promise<OidcTokens> {
    return this.authorize({ email, password });
  }

  /** The same flow without credentials: succeeds only while the Keycloak session lives. */
  async authorize(credentials?: { email: string; password: string }): Promise<OidcTokens> {
    const config = await oidcConfiguration(this.opts);
    const request = await authorizationRequest(config, this.opts.redirectUri);
    const { verifier, state, nonce } = request;
    let url = request.url;

    let submitted = false;
    // authorize → Keycloak's sign-in form → authenticate → callback
    for (let hop = 0; hop < 12; hop++) {
      if (url.startsWith(this.opts.redirectUri)) return this.exchange(config, url, verifier, state, nonce);
      let res = await this.request(url);
      const form = await formOf(res, 'kc-form-login');
      if (form) {
        if (!credentials) throw new Error('Keycloak asked for a sign-in and no credentials were given');
        if (submitted) throw new LoginRefusedError(credentials.email);
        submitted = true;
        res = await this.post(form.action, url, { username: credentials.email, password: credentials.password, credentialId: '' });
        // A refused sign-in shows the form again (HTTP 200 or 401) instead of redirecting.
        if (!res.headers.get('location')) throw new LoginRefusedError(credentials.email);
      }
      url = await this.follow(res, url);
    }
    throw new Error('Sign-in did not reach the callback within 12 redirects');
  }

  /**
   * Self-registration on Keycloak's own page, as a visitor does it: open the
   * sign-in page, follow "Register", fill in the form; Keycloak signs the new
   * account in and returns to the store's callback.
   */
  async register(person: { email: string; password: string; firstName: string; lastName: string }): Promise<OidcTokens> {
    const config = await oidcConfiguration(this.opts);
    const { url: authorizeUrl, verifier, state, nonce } = await authorizationRequest(config, this.opts.redirectUri);
    const login = await this.request(authorizeUrl);
    const html = await bodyOf(login);
    const registration = /href="([^"]*\/login-actions\/registration[^"]*)"/.exec(html)?.[1];
    if (!registration) throw new Error(`Keycloak's sign-in page offers no registration link (HTTP ${login.status})`);
    const page = await this.request(new URL(decodeHtml(registration), authorizeUrl).href);
    const form = await formOf(page, 'kc-register-form');
    if (!form) throw new Error(`Keycloak showed no registration form (HTTP ${page.status}): ${(await bodyOf(page)).slice(0, 300)}`);
    let res = await this.post(form.action, page.url || authorizeUrl, {
      email: person.email, firstName: person.firstName, lastName: person.lastName, password: person.password, 'password-confirm': person.password,
    });
    if (!res.headers.get('location')) {
      const error = /class="[^"]*(?:kc-feedback-text|pf-v5-c-helper-text__item-text|alert-error)[^"]*"[^>]*>([^<]+)</.exec(await bodyOf(res))?.[1];
      throw new Error(`Keycloak refused the registration (HTTP ${res.status}): ${error?.trim() ?? 'no message'}`);
    }
    let url = authorizeUrl;
    for (let hop = 0; hop < 12; hop++) {
      url = await this.follow(res, url);
      if (url.startsWith(this.opts.redirectUri)) return this.exchange(config, url, verifier, state, nonce);
      res = await this.request(url);
    }
    throw new Error('Registration did not reach the callback within 12 redirects');
  }

  private async exchange(config: client.Configuration, url: string, verifier: string, state: string, nonce: string): Promise<OidcTokens> {
    const tokens = await client.authorizationCodeGrant(config, new URL(url), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    if (!tokens.refresh_token || !tokens.id_token) throw new Error('Keycloak returned no refresh token or ID token');
    return { accessToken: tokens.access_token, idToken: tokens.id_token, refreshToken: tokens.refresh_token, expiresIn: tokens.expires_in ?? 0 };
  }

  private async follow(res: Response, from: string): Promise<string> {
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) {
      throw new Error(`Sign-in stopped at ${from}: HTTP ${res.status} ${(await bodyOf(res)).slice(0, 500)}`);
    }
    return new URL(location, from).href;
  }

  private post(action: string, base: string, fields: Record<string, string>): Promise<Response> {
    return this.request(new URL(action, base).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /**
   * RP-initiated logout as the store does it: with the ID token as hint,
   * Keycloak ends its session without asking and redirects to the store.
   */
  async logout(idToken: string): Promise<string> {
    const config = await oidcConfiguration(this.opts);
    const postLogout = `${new URL(this.opts.redirectUri).origin}/`;
    const endSession = client.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: postLogout });
    const done = await this.request(endSession.href);
    const location = done.headers.get('location');
    if (done.status !== 302 || !location) throw new Error(`Logout did not redirect (HTTP ${done.status})`);
    return location;
  }

  private async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    // One origin and short-lived flows: a jar keyed by name is enough (paths ignored).
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\b/i.test(a));
      if (!value || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}

const bodies = new WeakMap<Response, Promise<string>>();
const bodyOf = (res: Response) => {
  let body = bodies.get(res);
  if (!body) bodies.set(res, (body = res.text()));
  return body;
};

const decodeHtml = (value: string) => value.replace(/&amp;/g, '&').replace(/&#x3d;|&#61;/gi, '=').replace(/&quot;/g, '"');

/** The action of Keycloak's form with this id (kc-form-login, kc-register-form), when the page is that form. */
async function formOf(res: Response, id: string): Promise<{ action: string } | undefined> {
  if (res.status >= 300 || !res.headers.get('content-type')?.includes('text/html')) return undefined;
  const html = await bodyOf(res);
  const tag = new RegExp(`<form[^>]*id="${id}"[^>]*>`).exec(html)?.[0];
  const action = tag && /action="([^"]+)"/.exec(tag)?.[1];
  return action ? { action: decodeHtml(action) } : undefined;
}

async function authorizationRequest(config: client.Configuration, redirectUri: string): Promise<{ url: string; verifier: string; state: string; nonce: string }> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  }).href;
  return { url, verifier, state, nonce };
}

/** Signs in as a seeded user through the real authorization code + PKCE flow. */
export async function loginAs(email: string, password = DEV_PASSWORD, opts?: OidcClientOptions): Promise<OidcTokens> {
  return new OidcBrowser(opts).login(email, password);
}

/** A fresh access token from a refresh token, as the store does when one expires. */
export async function refreshTokens(refreshToken: string, opts?: OidcClientOptions): Promise<OidcTokens> {
  const tokens = await client.refreshTokenGrant(await oidcConfiguration(opts), refreshToken);
  return {
    accessToken: tokens.access_token,
    idToken: tokens.id_token ?? '',
    refreshToken: tokens.refresh_token ?? refreshToken,
    expiresIn: tokens.expires_in ?? 0,
  };
}
