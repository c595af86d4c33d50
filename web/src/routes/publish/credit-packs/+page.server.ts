import { error, fail, redirect } from '@sveltejs/kit';
import { apiClient, orFail, data } from '$lib/server/api';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const packs = await data(apiClient(event).GET('/v1/admin/credit-packs'));
  return { packs: packs.items, sync: packs.sync };
};

export const actions: Actions = {
  /** Creates or edits a credit pack; the API syncs the packs to Saleor and records the result. */
  save: async (event) => {
    if (!event.locals.user?.roles.includes('admin')) error(403, 'This needs the admin role.');
    const form = await event.request.formData();
    const code = String(form.get('code') ?? '').trim();
    const name = String(form.get('name') ?? '').trim();
    const creditsMc = Math.round(Number(String(form.get('credits') ?? '').replace(',', '.')) * 1000);
    const priceCents = Math.round(Number(String(form.get('price') ?? '').replace(',', '.')) * 100);
    const status = String(form.get('status') ?? 'published') as 'draft' | 'published' | 'retired';
    if (!/^[a-z0-9-]{1,30}$/.test(code)) return fail(400, { message: 'The pack code takes 1 to 30 lower-case letters, digits and dashes.' });
    if (!name) return fail(400, { message: 'Give the pack a name.' });
    if (!(creditsMc >= 1000) || !(priceCents >= 1)) return fail(400, { message: 'A pack holds at least 1 credit and costs at least 0.01.' });
    const done = await orFail(data(apiClient(event, { headers: { 'Idempotency-Key': crypto.randomUUID() } }).PUT('/v1/admin/credit-packs/{code}', {
      params: { path: { code } }, body: { name, credits_mc: creditsMc, price_cents: priceCents, status },
    })), {});
    if (!done.ok) return done.failure;
    redirect(303, '/publish/credit-packs?saved=1');
  },
};
