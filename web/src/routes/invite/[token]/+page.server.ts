// An invitation's link. Anyone holding it sees what it is; the invited person
// signs in (or registers on Keycloak's form) and accepts it, then lands in the
// workspace. A link that no longer works gets a page saying why, never an error.
import { error, fail, redirect } from '@sveltejs/kit';
import { apiClient } from '$lib/server/api';
import { chooseWorkspace } from '$lib/server/workspace';
import type { Actions, PageServerLoad } from './$types';

type Gone = 'accepted' | 'revoked' | 'expired' | 'not-found' | 'wrong-email';

/** The problem types of a refused acceptance, as the page's states. */
const goneByProblem: Record<string, Gone> = {
  'https://cmp.dev/problems/invitation-used': 'accepted',
  'https://cmp.dev/problems/invitation-revoked': 'revoked',
  'https://cmp.dev/problems/invitation-expired': 'expired',
  'https://cmp.dev/problems/not-found': 'not-found',
  'https://cmp.dev/problems/invitation-wrong-email': 'wrong-email',
};

export const load: PageServerLoad = async (event) => {
  const token = event.params.token;
  const { data: invitation, response } = await apiClient(event, { anonymous: true }).GET('/v1/invitations/{token}', { params: { path: { token } } });
  if (!response.ok && response.status !== 404 && response.status !== 400) {
    // The API is down or failing: that is an error page, not a verdict on the link.
    error(response.status, 'The invitation cannot be read right now. Please try again in a moment.');
  }
  return {
    invitation: invitation ?? null,
    returnTo: `/invite/${encodeURIComponent(token)}`,
    signedInAs: event.locals.user?.email ?? null,
  };
};

export const actions: Actions = {
  accept: async (event) => {
    const here = `/invite/${encodeURIComponent(event.params.token)}`;
    if (!event.locals.user) redirect(303, `/auth/login?return_to=${encodeURIComponent(here)}`);
    const { data: accepted, error: problem, response } = await apiClient(event).POST('/v1/invitations/{token}/accept', { params: { path: { token: event.params.token } } });
    if (!accepted) {
      const type = (problem as { type?: string } | undefined)?.type ?? '';
      const gone = goneByProblem[type];
      if (!gone) return fail(response.status, { gone: null, message: (problem as { detail?: string } | undefined)?.detail ?? 'The invitation could not be accepted.' });
      return fail(response.status, { gone, message: (problem as { detail?: string }).detail ?? null });
    }
    chooseWorkspace(event.cookies, event.url, accepted.org.id);
    redirect(303, '/workspace?joined=1');
  },
};
