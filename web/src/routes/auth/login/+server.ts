// Starts sign-in: remember PKCE verifier, state and nonce server-side (sealed
// cookie), then send the browser to the provider.
import { redirect } from '@sveltejs/kit';
import { authorizationRedirect } from '$lib/server/oidc';
import { safeReturnTo, writePendingLogin } from '$lib/server/session';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async ({ url, cookies, locals }) => {
  const returnTo = safeReturnTo(url.searchParams.get('return_to'));
  if (locals.user) redirect(303, returnTo);
  const { url: authorize, verifier, state, nonce } = await authorizationRedirect(url.origin);
  writePendingLogin(cookies, url, { verifier, state, nonce, returnTo });
  redirect(303, authorize.href);
};
