import { error, fail, redirect, type RequestEvent } from '@sveltejs/kit';
import { apiClient, orFail, data } from '$lib/server/api';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const api = apiClient(event);
  const offering = await data(api.GET('/v1/admin/offerings/{slug}', { params: { path: { slug: event.params.slug } } }));
  const stats = await data(api.GET('/v1/admin/offerings/{id}/stats', { params: { path: { id: offering.id }, query: { days: 30 } } }));
  return { offering, stats };
};

const admin = (event: RequestEvent) => {
  if (!event.locals.user?.roles.includes('admin')) error(403, 'This needs the admin role.');
  return apiClient(event, { headers: { 'Idempotency-Key': crypto.randomUUID() } });
};
const text = (form: FormData, name: string) => String(form.get(name) ?? '').trim();
const int = (form: FormData, name: string, scale = 1) => Math.round(Number(text(form, name).replace(',', '.')) * scale);

export const actions: Actions = {
  /** The listing buyers see: name, summary, Markdown description, category, example inputs, demo. */
  listing: async (event) => {
    const form = await event.request.formData();
    const id = text(form, 'id');
    const exampleInputs = text(form, 'example_inputs').split('\n').map((l) => l.trim()).filter(Boolean);
    const body = {
      name: text(form, 'name'), summary: text(form, 'summary'), description: String(form.get('description') ?? ''), category: text(form, 'category'),
      example_inputs: exampleInputs, demo_enabled: form.get('demo_enabled') === 'on',
      ...(['draft', 'published', 'retired'].includes(text(form, 'status')) ? { status: text(form, 'status') as 'draft' | 'published' | 'retired' } : {}),
    };
    if (!body.name) return fail(400, { section: 'listing', message: 'The name cannot be empty.' });
    if (exampleInputs.length > 10) return fail(400, { section: 'listing', message: 'Up to 10 example inputs, one per line.' });
    const done = await orFail(data(admin(event).PATCH('/v1/admin/offerings/{id}', { params: { path: { id } }, body })), { section: 'listing' });
    if (!done.ok) return done.failure;
    redirect(303, `/publish/${event.params.slug}?saved=listing#listing`);
  },

  /** Creates or edits a plan; the API syncs it to Saleor and records the result. Credits are entered in credits, stored in millicredits. */
  plan: async (event) => {
    const form = await event.request.formData();
    const code = text(form, 'code');
    if (!/^[a-z0-9-]{1,30}$/.test(code)) return fail(400, { section: 'plans', message: 'The plan code takes 1 to 30 lower-case letters, digits and dashes.' });
    const body = {
      name: text(form, 'name'), price_cents: int(form, 'price', 100), monthly_credits_mc: int(form, 'monthly_credits', 1000),
      price_per_run_mc: int(form, 'per_run', 1000), price_per_1k_tokens_mc: int(form, 'per_1k_tokens', 1000),
      rate_limit_per_minute: int(form, 'rate_limit'), status: (text(form, 'status') || 'published') as 'draft' | 'published' | 'retired',
    };
    if ([body.price_cents, body.monthly_credits_mc, body.price_per_run_mc, body.price_per_1k_tokens_mc, body.rate_limit_per_minute].some((n) => !Number.isFinite(n) || n < 0)) {
      return fail(400, { section: 'plans', message: 'Prices, credits and limits must be numbers of zero or more.' });
    }
    const done = await orFail(data(admin(event).PUT('/v1/admin/offerings/{id}/plans/{code}', { params: { path: { id: text(form, 'offering_id'), code } }, body })), { section: 'plans' });
    if (!done.ok) return done.failure;
    redirect(303, `/publish/${event.params.slug}?saved=plan#plans`);
  },

  publish: async (event) => versionAction(event, 'publish'),
  retire: async (event) => versionAction(event, 'retire'),
  checks: async (event) => versionAction(event, 'checks'),
};

async function versionAction(event: RequestEvent, action: 'publish' | 'retire' | 'checks') {
  const id = text(await event.request.formData(), 'version_id');
  const api = admin(event);
  const params = { params: { path: { id } } };
  const call = action === 'publish' ? api.POST('/v1/admin/versions/{id}/publish', params)
    : action === 'retire' ? api.POST('/v1/admin/versions/{id}/retire', params)
      : api.POST('/v1/admin/versions/{id}/checks', params);
  const done = await orFail(data(call), { section: 'versions', versionId: id });
  if (!done.ok) return done.failure;
  redirect(303, `/publish/${event.params.slug}?done=${action}#versions`);
}
