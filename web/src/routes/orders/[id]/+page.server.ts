import { error, fail, isHttpError, redirect } from '@sveltejs/kit';
import { apiClient, orFail, data } from '$lib/server/api';
import { publicApiUrl } from '$lib/server/env';
import type { Order } from '$lib/types';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  if (!event.locals.user) redirect(303, `/auth/login?return_to=${encodeURIComponent(event.url.pathname)}`);
  event.depends('app:order');
  let order: Order | null = null;
  try {
    order = (await data(apiClient(event).GET('/v1/orders/{id}', { params: { path: { id: event.params.id } } }))) as Order;
  } catch (err) {
    // Just back from the pay page, the payment webhook may not have arrived yet: wait for it.
    if (!(isHttpError(err) && err.status === 404 && event.url.searchParams.has('just_paid'))) throw err;
  }
  const slug = order?.instances[0]?.offering_slug;
  const offering = slug ? await data(apiClient(event, { anonymous: true }).GET('/v1/offerings/{slug}', { params: { path: { slug } } })) : null;
  return { order, offering: offering ? { slug: offering.slug, name: offering.name, example: offering.example_inputs[0] ?? 'Hello!' } : null, apiUrl: publicApiUrl() };
};

export const actions: Actions = {
  /** An API key for the new instance; its secret is in this answer only. */
  createKey: async (event) => {
    if (!event.locals.user) error(401, 'Please sign in again.');
    const form = await event.request.formData();
    const name = String(form.get('name') ?? '').trim();
    const instanceId = String(form.get('instance_id') ?? '');
    if (!name || name.length > 80) return fail(400, { message: 'Give the key a name (up to 80 characters).' });
    const key = await orFail(data(apiClient(event).POST('/v1/api-keys', { body: { name, ...(instanceId ? { instance_id: instanceId } : {}) } })), {});
    if (!key.ok) return key.failure;
    return { created: { name: key.value.name, secret: key.value.secret } };
  },
};
