// The provider's answer: exchange the code (state, nonce and PKCE checked),
// open the session, make sure the workspace exists (POST /v1/orgs/auto), and
// land a first-time user on /workspace.
import { error, redirect } from '@sveltejs/kit';
import { apiClient, data } from '$lib/server/api';
import { completeSignIn } from '$lib/server/oidc';
import { clearPendingLogin, readPendingLogin, writeSession } from '$lib/server/session';
import type { RequestHandler } from './$types';

export const GET: RequestHandler = async (event) => {
  const { url, cookies } = event;
  const pending = readPendingLogin(cookies);
  if (!pending) error(400, 'This sign-in link has expired. Please sign in again.');
  const providerError = url.searchParams.get('error');
  if (providerError) error(401, `Sign-in was not completed: ${url.searchParams.get('error_description') ?? providerError}`);
  let tokens;
  try {
    tokens = await completeSignIn(url, pending);
  } catch (err) {
    console.warn('sign-in callback refused', (err as Error).message);
    error(401, 'Sign-in could not be verified. Please sign in again.');
  }
  clearPendingLogin(cookies);
  event.locals.accessToken = tokens.accessToken;
  const api = apiClient(event);
  const workspace = await data(api.POST('/v1/orgs/auto'));
  const me = await data(api.GET('/v1/me'));
  writeSession(cookies, url, {
    user: { subject: tokens.claims.sub, email: me.email ?? tokens.claims.email ?? '', name: tokens.claims.name ?? me.email ?? '', roles: me.roles },
    accessToken: tokens.accessToken,
    expiresAt: tokens.expiresAt,
    refreshToken: tokens.refreshToken,
    idToken: tokens.idToken,
  });
  // Someone who came from an invitation goes back to it to accept, even when they just registered.
  const fromInvitation = pending.returnTo.startsWith('/invite/');
  redirect(303, workspace.created && !fromInvitation ? '/workspace?welcome=1' : pending.returnTo);
};
