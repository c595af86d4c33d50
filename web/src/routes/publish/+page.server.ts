import { error, fail, redirect } from '@sveltejs/kit';
import { apiClient, orFail, data } from '$lib/server/api';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const offerings = await data(apiClient(event).GET('/v1/admin/offerings'));
  return { offerings: offerings.items };
};

export const actions: Actions = {
  /** A new offering starts as a draft listing; versions, plans and publishing follow on its page. */
  create: async (event) => {
    if (!event.locals.user?.roles.includes('admin')) error(403, 'This needs the admin role.');
    const form = await event.request.formData();
    const slug = String(form.get('slug') ?? '').trim();
    const name = String(form.get('name') ?? '').trim();
    const values = { slug, name };
    if (!/^[a-z0-9][a-z0-9-]{1,62}$/.test(slug)) return fail(400, { ...values, message: 'The address (slug) takes 2 to 63 lower-case letters, digits and dashes.' });
    if (!name || name.length > 120) return fail(400, { ...values, message: 'Give the agent a name (up to 120 characters).' });
    const done = await orFail(data(apiClient(event, { headers: { 'Idempotency-Key': crypto.randomUUID() } }).POST('/v1/admin/offerings', { body: { slug, name } })), { ...values });
    if (!done.ok) return done.failure;
    redirect(303, `/publish/${slug}?created=1`);
  },
};
