// Every request: open the encrypted session cookie, refresh the access token
// when it is about to expire, and put the user on event.locals.
import type { Handle } from '@sveltejs/kit';
import { refresh } from '$lib/server/oidc';
import { clearSession, readSession, writeSession } from '$lib/server/session';
import { apiClient } from '$lib/server/api';
import { chosenWorkspaceId, currentWorkspace } from '$lib/server/workspace';

/** Refresh this long before expiry, so a token never expires between the check and the API call. */
const REFRESH_MARGIN_S = 60;

export const handle: Handle = async ({ event, resolve }) => {
  event.locals.user = null;
  event.locals.accessToken = null;
  event.locals.workspaces = [];
  event.locals.workspace = null;
  let session = readSession(event.cookies);
  if (session && session.expiresAt - REFRESH_MARGIN_S < Date.now() / 1000) {
    // Concurrent requests of this session share one refresh (a refresh token is good for one use).
    try {
      session = session.refreshToken ? { ...session, ...(await refresh(session.refreshToken)) } : null;
    } catch (err) {
      console.warn('session refresh failed; signing out', (err as Error).message);
      session = null;
    }
    if (session) writeSession(event.cookies, event.url, session);
    else clearSession(event.cookies);
  }
  if (session) {
    event.locals.user = session.user;
    event.locals.accessToken = session.accessToken;
    // Which workspaces the person belongs to now (an invitation adds one, a removal takes one away): the switcher's
    // choice counts only while they still belong to it.
    const me = await apiClient(event).GET('/v1/me').catch(() => null);
    if (me?.data) {
      event.locals.workspaces = me.data.orgs;
      event.locals.workspace = currentWorkspace(me.data.orgs, chosenWorkspaceId(event.cookies));
    }
  }
  const response = await resolve(event);
  // Only the chat widget may be framed by other sites.
  if (!event.url.pathname.startsWith('/embed/')) response.headers.set('X-Frame-Options', 'DENY');
  response.headers.set('X-Content-Type-Options', 'nosniff');
  response.headers.set('Referrer-Policy', 'strict-origin-when-cross-origin');
  return response;
};
