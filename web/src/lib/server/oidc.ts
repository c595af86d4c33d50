// Sign-in with openid-client v6: discovery once per process, the
// authorization code flow with PKCE, state and nonce, refresh, and logout at
// the provider (RP-initiated end_session).
import * as client from 'openid-client';
import { oidcClientId, oidcClientSecret, oidcIssuer } from './env';
import { refreshShared, toTokens, type RefreshedTokens, type SignedInTokens } from './tokens';

let discovered: { issuer: string; config: Promise<client.Configuration> } | null = null;

export function oidcConfiguration(): Promise<client.Configuration> {
  const issuer = oidcIssuer();
  if (!discovered || discovered.issuer !== issuer) {
    const url = new URL(issuer);
    const config = client.discovery(url, oidcClientId(), undefined, client.ClientSecretBasic(oidcClientSecret()), {
      // The local Keycloak speaks plain HTTP on loopback; production issuers are HTTPS.
      execute: url.protocol === 'http:' ? [client.allowInsecureRequests] : [],
    });
    // A failed discovery (provider still starting) is retried on the next sign-in.
    config.catch(() => (discovered = null));
    discovered = { issuer, config };
  }
  return discovered.config;
}

export const callbackUrl = (origin: string) => `${origin}/auth/callback`;

/**
 * `register`: open Keycloak's registration form instead of the sign-in form (prompt=create, Keycloak 26);
 * `loginHint`: the email to prefill (an invited person's).
 */
export async function authorizationRedirect(
  origin: string,
  opts: { register?: boolean; loginHint?: string } = {},
): Promise<{ url: URL; verifier: string; state: string; nonce: string }> {
  const config = await oidcConfiguration();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: callbackUrl(origin),
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...(opts.register ? { prompt: 'create' } : {}),
    ...(opts.loginHint ? { login_hint: opts.loginHint } : {}),
  });
  return { url, verifier, state, nonce };
}

/** Exchanges the code at the callback, checking state, nonce and the PKCE verifier. */
export async function completeSignIn(currentUrl: URL, pending: { verifier: string; state: string; nonce: string }): Promise<SignedInTokens> {
  const config = await oidcConfiguration();
  const tokens = await client.authorizationCodeGrant(config, currentUrl, {
    pkceCodeVerifier: pending.verifier,
    expectedState: pending.state,
    expectedNonce: pending.nonce,
    idTokenExpected: true,
  });
  return toTokens(tokens);
}

/** New tokens for the session; concurrent requests with the same refresh token share one grant (./tokens.ts). */
export async function refresh(refreshToken: string): Promise<RefreshedTokens> {
  return refreshShared(await oidcConfiguration(), refreshToken);
}

/** The provider's end_session URL, which ends the provider session too and comes back to the store. */
export async function endSessionUrl(origin: string, idToken: string | null): Promise<string> {
  const config = await oidcConfiguration();
  if (!config.serverMetadata().end_session_endpoint) return `${origin}/`;
  return client.buildEndSessionUrl(config, {
    post_logout_redirect_uri: `${origin}/`,
    ...(idToken ? { id_token_hint: idToken } : { client_id: oidcClientId() }),
  }).href;
}
