// Starts sign-in: remember PKCE verifier, state and nonce server-side (sealed
// cookie), then send the browser to the provider.
import { redirect } from '@sveltejs/kit';
import { authorizationRedirect } from '$lib/server/oidc';
import { safeReturnTo, writePendingLogin } from '$lib/server/session';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async ({ url, cookies, locals }) => {
  const returnTo = safeReturnTo(url.searchParams.get('return_to'));
  if (locals.user) redirect(303, returnTo);
  // An invitation's page sends new people to Keycloak's registration form, with the invited email prefilled.
  const hint = url.searchParams.get('login_hint') ?? undefined;
  const { url: authorize, verifier, state, nonce } = await authorizationRedirect(url.origin, {
    register: url.searchParams.get('register') === '1',
    loginHint: hint && hint.length <= 254 ? hint : undefined,
  });
  writePendingLogin(cookies, url, { verifier, state, nonce, returnTo });
  redirect(303, authorize.href);
};
