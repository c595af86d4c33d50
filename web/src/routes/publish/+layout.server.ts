// The publisher console is for the admin role only: anonymous users sign in,
// everyone else gets the 403 page. The API checks the role again on every call.
import { error, redirect } from '@sveltejs/kit';
import type { LayoutServerLoad } from './$types';

export const load: LayoutServerLoad = ({ locals, url }) => {
  if (!locals.user) redirect(303, `/auth/login?return_to=${encodeURIComponent(url.pathname + url.search)}`);
  if (!locals.user.roles.includes('admin')) error(403, 'The publisher console is for publishers. Your account does not have the admin role.');
  return {};
};
