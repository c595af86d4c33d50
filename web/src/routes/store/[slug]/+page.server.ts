import { fail, redirect } from '@sveltejs/kit';
import { apiClient, orFail, data } from '$lib/server/api';
import { demoCall, hasDemoCookie } from '$lib/server/demo';
import { publicApiUrl } from '$lib/server/env';
import type { Actions, PageServerLoad } from './$types';

const DEMO_MESSAGES = 5;

export const load: PageServerLoad = async (event) => {
  const offering = await data(apiClient(event, { anonymous: true }).GET('/v1/offerings/{slug}', { params: { path: { slug: event.params.slug } } }));
  // Ask the API only for a returning visitor; a new one has every free message.
  const demo = offering.demo_enabled && hasDemoCookie(event)
    ? (await demoCall(event, '/v1/demo')).body as { demo_messages_left: number; demo_messages_total: number }
    : { demo_messages_left: DEMO_MESSAGES, demo_messages_total: DEMO_MESSAGES };
  const instances = event.locals.user
    ? (await data(apiClient(event).GET('/v1/instances'))).items.filter((i) => i.offering_slug === offering.slug)
    : [];
  return { offering, demo, instances, apiUrl: publicApiUrl(), origin: event.url.origin };
};

const signInFirst = (slug: string) => redirect(303, `/auth/login?return_to=${encodeURIComponent(`/store/${slug}#pricing`)}`);

export const actions: Actions = {
  /** Free plan: one click starts provisioning; the order page shows it live. */
  subscribe: async (event) => {
    if (!event.locals.user) signInFirst(event.params.slug);
    const plan = String((await event.request.formData()).get('plan') ?? '');
    if (!/^[a-z0-9-]{1,30}$/.test(plan)) return fail(400, { plan, message: 'Choose a plan.' });
    const started = await orFail(data(apiClient(event).POST('/v1/instances', { body: { offering: event.params.slug, plan } })), { plan });
    if (!started.ok) return started.failure;
    redirect(303, `/orders/${encodeURIComponent(started.value.order_id)}`);
  },

  /** Paid plan: Saleor checkout, paid on its pay page, which returns to /orders/return. */
  checkout: async (event) => {
    if (!event.locals.user) signInFirst(event.params.slug);
    const plan = String((await event.request.formData()).get('plan') ?? '');
    if (!/^[a-z0-9-]{1,30}$/.test(plan)) return fail(400, { plan, message: 'Choose a plan.' });
    const checkout = await orFail(data(apiClient(event).POST('/v1/checkout', {
      body: { items: [{ type: 'plan', offering: event.params.slug, plan }], return_url: `${event.url.origin}/orders/return` },
    })), { plan });
    if (!checkout.ok) return checkout.failure;
    if (!checkout.value.payment_url) return fail(502, { plan, message: 'The payment page is not available right now. Please try again.' });
    redirect(303, checkout.value.payment_url);
  },
};
