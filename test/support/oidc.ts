// Real sign-in against the running dev OIDC provider, as a browser and the
// store's server would do it: openid-client (the library the store uses) for
// discovery, PKCE and the token exchange; plain HTTP with a cookie jar for the
// browser's part (authorize → sign-in form → consent → callback). This is how
// integration tests get access tokens.
import * as client from 'openid-client';
import { DEV_PASSWORD } from '../../deploy/local/oidc/users';
import { testConfig } from './stack';

export { devUsers, DEV_PASSWORD } from '../../deploy/local/oidc/users';

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

/** The provider showed the sign-in form again: wrong email or password. */
export class LoginRefusedError extends Error {
  constructor(readonly email: string) {
    super(`The OIDC provider refused the sign-in of ${email}`);
    this.name = 'LoginRefusedError';
  }
}

/** The test stack's provider and the store's client registration. */
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

/** openid-client's view of the provider, discovered once per issuer and client. */
export function oidcConfiguration(opts: OidcClientOptions = testOidcOptions()): Promise<client.Configuration> {
  const key = `${opts.issuer} ${opts.clientId}`;
  let found = configurations.get(key);
  if (!found) {
    found = client.discovery(new URL(opts.issuer), opts.clientId, undefined, client.ClientSecretBasic(opts.clientSecret), {
      // The dev provider speaks plain HTTP on loopback.
      execute: [client.allowInsecureRequests],
    });
    found.catch(() => configurations.delete(key));
    configurations.set(key, found);
  }
  return found;
}

/**
 * A browser with its own cookies. One instance is one user agent: after
 * login(), its provider session lets authorize() sign in again silently, and
 * logout() ends that session.
 */
export class OidcBrowser {
  private readonly cookies = new Map<string, string>();

  constructor(readonly opts: OidcClientOptions = testOidcOptions()) {}

  /** The authorization code flow with PKCE, signing in with the form when asked. */
  async login(email: string, password = DEV_PASSWORD): Promise<OidcTokens> {
    return this.authorize({ email, password });
  }

  /** The same flow without credentials: succeeds only while the provider session lives. */
  async authorize(credentials?: { email: string; password: string }): Promise<OidcTokens> {
    const config = await oidcConfiguration(this.opts);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    let url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.opts.redirectUri,
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    }).href;

    let submitted = false;
    // authorize → interaction (login) → authorize → interaction (consent) → authorize → callback
    for (let hop = 0; hop < 12; hop++) {
      if (url.startsWith(this.opts.redirectUri)) {
        const tokens = await client.authorizationCodeGrant(config, new URL(url), {
          pkceCodeVerifier: verifier,
          expectedState: state,
          expectedNonce: nonce,
          idTokenExpected: true,
        });
        if (!tokens.refresh_token || !tokens.id_token) throw new Error('The provider returned no refresh token or ID token');
        return { accessToken: tokens.access_token, idToken: tokens.id_token, refreshToken: tokens.refresh_token, expiresIn: tokens.expires_in ?? 0 };
      }
      let res = await this.request(url);
      if (res.status === 200 && (await peekLoginForm(res))) {
        const form = await loginForm(res);
        if (!credentials) throw new Error('The provider asked for a sign-in and no credentials were given');
        if (submitted) throw new LoginRefusedError(credentials.email);
        submitted = true;
        res = await this.request(new URL(form.action, url).href, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf: form.csrf, email: credentials.email, password: credentials.password }).toString(),
        });
        if (res.status === 401) throw new LoginRefusedError(credentials.email);
      }
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) {
        throw new Error(`Sign-in stopped at ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 500)}`);
      }
      url = new URL(location, url).href;
    }
    throw new Error('Sign-in did not reach the callback within 12 redirects');
  }

  /** RP-initiated logout, confirmed the way a person clicks "Yes, sign me out". */
  async logout(idToken: string): Promise<string> {
    const config = await oidcConfiguration(this.opts);
    const postLogout = `${new URL(this.opts.redirectUri).origin}/`;
    const endSession = client.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: postLogout });
    const page = await this.request(endSession.href);
    const html = await page.text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    const action = /<form id="op.logoutForm" method="post" action="([^"]+)"/.exec(html)?.[1];
    if (page.status !== 200 || !xsrf || !action) throw new Error(`No logout form (HTTP ${page.status})`);
    const done = await this.request(new URL(action, endSession).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
    });
    const location = done.headers.get('location');
    if (done.status !== 303 || !location) throw new Error(`Logout was not confirmed (HTTP ${done.status})`);
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

async function peekLoginForm(res: Response): Promise<boolean> {
  if (!res.headers.get('content-type')?.includes('text/html')) return false;
  return (await bodyOf(res)).includes('name="csrf"');
}

async function loginForm(res: Response): Promise<{ action: string; csrf: string }> {
  const html = await bodyOf(res);
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!action || !csrf) throw new Error('The sign-in page has no login form');
  return { action, csrf };
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
