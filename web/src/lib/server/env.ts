// The store server's settings, read at request time from the environment
// (SvelteKit's dynamic env), with the local stack's defaults.
import { env } from '$env/dynamic/private';
import { env as publicEnv } from '$env/dynamic/public';

export const apiUrl = () => (env.API_URL ?? 'http://127.0.0.1:4000').replace(/\/$/, '');
/** The API's address as buyers reach it (code snippets). */
export const publicApiUrl = () => (publicEnv.PUBLIC_API_URL ?? env.API_PUBLIC_URL ?? apiUrl()).replace(/\/$/, '');
export const oidcIssuer = () => env.OIDC_ISSUER ?? 'http://127.0.0.1:4010/realms/cmp';
export const oidcClientId = () => env.OIDC_CLIENT_ID ?? 'cmp-store';
export const oidcClientSecret = () => env.OIDC_CLIENT_SECRET ?? 'cmp-store-dev-secret';
export const temporalUiUrl = () => env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233';

/** The secret the session key is derived from; the API's SIGNING_SECRET unless SESSION_SECRET is set. */
export function sessionSecret(): string {
  const secret = env.SESSION_SECRET ?? env.SIGNING_SECRET ?? 'dev-only-signing-secret-change-me-in-production';
  if (env.NODE_ENV === 'production' && secret.startsWith('dev-only')) throw new Error('SESSION_SECRET must be set in production');
  return secret;
}

/** Cookies are Secure whenever the store is served over HTTPS. */
export const secureCookies = (url: URL) => url.protocol === 'https:';
