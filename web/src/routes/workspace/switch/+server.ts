// The header's workspace switcher: remembers the choice (a workspace the person belongs to) and opens it.
import { error, redirect } from '@sveltejs/kit';
import { chooseWorkspace } from '$lib/server/workspace';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = async ({ request, locals, cookies, url }) => {
  if (!locals.user) redirect(303, '/auth/login?return_to=/workspace');
  const orgId = String((await request.formData()).get('org') ?? '');
  if (!locals.workspaces.some((w) => w.id === orgId)) error(404, 'You are not a member of that workspace.');
  chooseWorkspace(cookies, url, orgId);
  redirect(303, '/workspace');
};
