// The development OIDC provider: oidc-provider (a certified OpenID Provider)
// configured to look like CMP's Keycloak realm to its clients. The store signs
// in with the authorization code flow + PKCE; the access token it gets is an
// RS256 JWT for the API (aud "cmp-api") carrying Keycloak's
// realm_access.roles, so the API verifies it exactly as it would Keycloak's.
import { createHmac, timingSafeEqual } from 'node:crypto';
import Provider, { errors, type KoaContext, type Next } from 'oidc-provider';
import type { Logger } from '../../../core/logger';
import type { ProviderKeys } from './keys';
import { errorPage, loginPage, logoutPage, logoutSuccessPage } from './pages';
import { devUsers, DEV_PASSWORD, findUserByEmail, findUserBySubject } from './users';

export const STORE_CLIENT_ID = 'cmp-store';
export const API_AUDIENCE = 'cmp-api';
/**
 * RFC 8707 wants an absolute URI as the resource indicator; Keycloak's
 * audience mapper puts the plain client id in `aud`, so the resource maps to
 * that audience.
 */
export const API_RESOURCE = 'urn:cmp:api';

/** Web origins whose /auth/callback may receive codes: dev (3000) and every test slot's web port. */
export function storeOrigins(extra: string[] = []): string[] {
  const ports = [3000, ...Array.from({ length: 10 }, (_, slot) => 13000 + 100 * slot)];
  const origins = ports.flatMap((p) => [`http://127.0.0.1:${p}`, `http://localhost:${p}`]);
  for (const origin of extra) if (!origins.includes(origin)) origins.push(origin);
  return origins;
}

export interface DevProviderOptions {
  issuer: string;
  keys: ProviderKeys;
  logger: Logger;
  storeClientSecret: string;
  /** Origins beyond the built-in ones (e.g. WEB_ORIGIN), each allowed {origin}/auth/callback. */
  extraStoreOrigins?: string[];
  accessTokenTtlSec?: number;
}

// First-party clients get consent without asking (as Keycloak's
// "Consent required: off"); there are no third-party clients here.
const FIRST_PARTY = new Set([STORE_CLIENT_ID]);

export function createDevProvider(opts: DevProviderOptions): Provider {
  const origins = storeOrigins(opts.extraStoreOrigins);
  const accessTokenTtl = opts.accessTokenTtlSec ?? 900;

  const provider = new Provider(opts.issuer, {
    clients: [
      {
        client_id: STORE_CLIENT_ID,
        client_name: 'CMP Store',
        client_secret: opts.storeClientSecret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: origins.map((o) => `${o}/auth/callback`),
        post_logout_redirect_uris: origins.map((o) => `${o}/`),
      },
    ],
    jwks: { keys: opts.keys.signingKeys },
    cookies: { keys: opts.keys.cookieKeys },
    pkce: { required: () => true },
    responseTypes: ['code'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    async findAccount(_ctx: unknown, sub: string) {
      const user = findUserBySubject(sub);
      if (!user) return undefined;
      return {
        accountId: user.subject,
        async claims() {
          return { sub: user.subject, email: user.email, email_verified: true, name: user.name, preferred_username: user.email };
        },
      };
    },
    // Keycloak-shaped access token: the API reads roles from realm_access.roles.
    async extraTokenClaims(_ctx: unknown, token: { kind: string; accountId?: string }) {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const user = findUserBySubject(token.accountId);
      if (!user) return undefined;
      return { email: user.email, name: user.name, preferred_username: user.email, realm_access: { roles: [...user.roles] } };
    },
    // Like Keycloak, a confidential client gets a refresh token without
    // asking for offline_access (which oidc-provider only grants with prompt=consent).
    async issueRefreshToken(_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) {
      return client.grantTypeAllowed('refresh_token');
    },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx: KoaContext, form: string) {
          ctx.type = 'html';
          ctx.body = logoutPage(ctx.host, form);
        },
        async postLogoutSuccessSource(ctx: KoaContext) {
          ctx.type = 'html';
          ctx.body = logoutSuccessPage();
        },
      },
      resourceIndicators: {
        enabled: true,
        // The store sends no resource parameter: its tokens are for the API.
        async defaultResource() {
          return API_RESOURCE;
        },
        async useGrantedResource() {
          return true;
        },
        async getResourceServerInfo(_ctx: unknown, resource: string) {
          if (resource !== API_RESOURCE) throw new errors.InvalidTarget();
          return {
            scope: 'cmp-api',
            audience: API_AUDIENCE,
            accessTokenTTL: accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    ttl: {
      AccessToken: accessTokenTtl,
      IdToken: 3600,
      RefreshToken: 8 * 3600,
      Interaction: 3600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
    },
    // Only server-side code (SvelteKit, the API) talks to this provider.
    clientBasedCORS: () => false,
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
    },
    async renderError(ctx: KoaContext, out: { error?: string; error_description?: string }) {
      ctx.type = 'html';
      ctx.body = errorPage('Sign-in problem', out.error_description ?? out.error ?? 'Something went wrong');
    },
  });

  provider.on('server_error', (_ctx: unknown, err: Error) => opts.logger.error({ err }, 'oidc server error'));
  provider.on('grant.error', (_ctx: unknown, err: Error) => opts.logger.warn({ err: err.message }, 'token request refused'));
  provider.on('authorization.error', (_ctx: unknown, err: Error) => opts.logger.warn({ err: err.message }, 'authorization request refused'));
  provider.on('end_session.success', () => opts.logger.info('signed out'));

  provider.use(requestLog(opts.logger));
  provider.use(interactionRoutes(provider, opts));
  return provider;
}

function requestLog(logger: Logger) {
  return async (ctx: KoaContext, next: Next) => {
    const started = Date.now();
    try {
      await next();
    } finally {
      logger.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Date.now() - started }, 'request');
    }
  };
}

/**
 * The sign-in pages: GET /interaction/:uid shows the form (or approves
 * consent for a first-party client), POST /interaction/:uid/login checks the
 * password. The interaction cookie is SameSite=Lax and the form carries an
 * HMAC of the interaction id, so another site cannot post a login.
 */
function interactionRoutes(provider: Provider, opts: DevProviderOptions) {
  const csrfFor = (uid: string) => createHmac('sha256', opts.keys.cookieKeys[0]!).update(`login:${uid}`).digest('base64url');
  const seededEmails = devUsers.map((u) => u.email);

  return async (ctx: KoaContext, next: Next) => {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
    if (!match) return next();
    const [, uid, login] = match as unknown as [string, string, string | undefined];
    ctx.set('cache-control', 'no-store');
    ctx.set('x-frame-options', 'DENY');
    ctx.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");

    try {
      const interaction = await provider.interactionDetails(ctx.req, ctx.res);
      if (interaction.uid !== uid) throw new errors.SessionNotFound('interaction mismatch');
      const client = await provider.Client.find(interaction.params.client_id as string);
      const clientName = client?.clientName ?? String(interaction.params.client_id);

      if (ctx.method === 'GET' && !login) {
        if (interaction.prompt.name === 'login') {
          ctx.type = 'html';
          ctx.body = loginPage({ uid, csrf: csrfFor(uid), clientName, seededEmails, devPassword: DEV_PASSWORD });
          return;
        }
        if (interaction.prompt.name === 'consent') {
          if (!client || !FIRST_PARTY.has(client.clientId)) {
            await provider.interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: 'Only first-party clients are registered here' });
            return;
          }
          const grantId = await approveConsent(provider, interaction);
          await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
          return;
        }
        ctx.status = 400;
        ctx.type = 'html';
        ctx.body = errorPage('Sign-in problem', `Unsupported prompt ${interaction.prompt.name}`);
        return;
      }

      if (ctx.method === 'POST' && login) {
        const form = await readForm(ctx);
        if (interaction.prompt.name !== 'login' || !safeEqual(form.get('csrf') ?? '', csrfFor(uid))) {
          ctx.status = 403;
          ctx.type = 'html';
          ctx.body = errorPage('Sign-in problem', 'This sign-in form has expired; start again from the store.');
          return;
        }
        const email = form.get('email') ?? '';
        const user = findUserByEmail(email);
        if (!user || !safeEqual(form.get('password') ?? '', user.password)) {
          opts.logger.info({ email }, 'sign-in refused');
          ctx.status = 401;
          ctx.type = 'html';
          ctx.body = loginPage({ uid, csrf: csrfFor(uid), clientName, email, error: 'Wrong email or password.', seededEmails, devPassword: DEV_PASSWORD });
          return;
        }
        opts.logger.info({ email: user.email, sub: user.subject }, 'signed in');
        await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: user.subject, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
        return;
      }

      ctx.status = 405;
      ctx.body = errorPage('Sign-in problem', 'Method not allowed');
    } catch (err) {
      if (err instanceof errors.SessionNotFound) {
        ctx.status = 400;
        ctx.type = 'html';
        ctx.body = errorPage('Sign-in expired', 'This sign-in attempt has expired or was already used; start again from the store.');
        return;
      }
      throw err;
    }
  };
}

/** Grants what a first-party client asked for: its OIDC scopes and claims, and the API's scopes. */
async function approveConsent(provider: Provider, interaction: Awaited<ReturnType<Provider['interactionDetails']>>): Promise<string> {
  const { details } = interaction.prompt;
  const grant = interaction.grantId
    ? await provider.Grant.find(interaction.grantId)
    : new provider.Grant({ accountId: interaction.session!.accountId!, clientId: interaction.params.client_id as string });
  if (!grant) throw new errors.SessionNotFound('grant not found');
  if (details.missingOIDCScope) grant.addOIDCScope((details.missingOIDCScope as string[]).join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims as string[]);
  for (const [indicator, scopes] of Object.entries((details.missingResourceScopes ?? {}) as Record<string, string[]>)) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function readForm(ctx: KoaContext): Promise<URLSearchParams> {
  const type = ctx.req.headers['content-type'] ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) return new URLSearchParams();
  let body = '';
  for await (const chunk of ctx.req) {
    body += (chunk as Buffer).toString('utf8');
    if (body.length > 16_384) throw new errors.InvalidRequest('request body too large');
  }
  return new URLSearchParams(body);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
