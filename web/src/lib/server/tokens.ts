// The provider's token responses as the session keeps them, and the refresh
// grant shared by concurrent requests. The realm revokes a refresh token when
// it is used (revokeRefreshToken, refreshTokenMaxReuse 0): two requests of one
// session that refresh at the same moment (a page and its data requests) would
// send the same token twice, Keycloak would refuse the second, and that request
// would sign the user out. So one refresh token makes one grant, whose outcome
// every request carrying that token shares.
import * as client from 'openid-client';

export interface SignedInTokens {
  accessToken: string;
  expiresAt: number;
  refreshToken: string | null;
  idToken: string | null;
  claims: { sub: string; email?: string; name?: string };
}

export type RefreshedTokens = Omit<SignedInTokens, 'claims'>;

export const toTokens = (t: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers, previous?: SignedInTokens): SignedInTokens => {
  const claims = t.claims();
  return {
    accessToken: t.access_token,
    expiresAt: Math.floor(Date.now() / 1000) + (t.expiresIn() ?? 300),
    refreshToken: t.refresh_token ?? previous?.refreshToken ?? null,
    idToken: t.id_token ?? previous?.idToken ?? null,
    claims: claims
      ? { sub: claims.sub, email: typeof claims.email === 'string' ? claims.email : undefined, name: typeof claims.name === 'string' ? claims.name : undefined }
      : (previous?.claims ?? { sub: '' }),
  };
};

/**
 * How long a refresh's outcome stays shared: a request that left the browser with the old cookie before the new
 * one arrived still gets the new tokens rather than a refusal.
 */
export const SHARED_REFRESH_MS = 30_000;
const refreshes = new Map<string, Promise<RefreshedTokens>>();

/** Refreshes with `refreshToken`, or joins the refresh already made with it. A failure is not kept: the next request tries again. */
export function refreshShared(config: client.Configuration, refreshToken: string): Promise<RefreshedTokens> {
  const shared = refreshes.get(refreshToken);
  if (shared) return shared;
  const refresh = client.refreshTokenGrant(config, refreshToken).then((tokens) => {
    const { claims: _claims, ...rest } = toTokens(tokens);
    return { ...rest, refreshToken: rest.refreshToken ?? refreshToken };
  });
  const forget = () => {
    if (refreshes.get(refreshToken) === refresh) refreshes.delete(refreshToken);
  };
  refreshes.set(refreshToken, refresh);
  refresh.catch(forget);
  setTimeout(forget, SHARED_REFRESH_MS).unref();
  return refresh;
}
