// Sign-out: drop the session here, then end the provider's session too.
import { redirect } from '@sveltejs/kit';
import { endSessionUrl } from '$lib/server/oidc';
import { clearSession, readSession } from '$lib/server/session';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = async ({ cookies, url }) => {
  const session = readSession(cookies);
  clearSession(cookies);
  redirect(303, session ? await endSessionUrl(url.origin, session.idToken) : '/');
};
