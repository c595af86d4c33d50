import { error, fail, redirect } from '@sveltejs/kit';
import { apiClient, apiFailure, data } from '$lib/server/api';
import type { ApiKeyScope } from '$lib/types';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

// Every scope the API knows, and only those: the generated types make a missing or unknown one a type error.
const SCOPES: Record<ApiKeyScope, true> = { runs: true, 'usage:read': true };
const isScope = (s: string): s is ApiKeyScope => Object.hasOwn(SCOPES, s);

export const load: PageServerLoad = async (event) => {
  if (!event.locals.user) redirect(303, '/auth/login?return_to=/workspace');
  event.depends('app:workspace');
  const api = apiClient(event);
  const [wallet, usage, instances, keys, packs] = await Promise.all([
    data(api.GET('/v1/wallet')),
    data(api.GET('/v1/usage', { params: { query: { days: 30 } } })),
    data(api.GET('/v1/instances')),
    data(api.GET('/v1/api-keys')),
    data(apiClient(event, { anonymous: true }).GET('/v1/credit-packs')),
  ]);
  const statement = await data(api.GET('/v1/wallets/{id}/transfers', { params: { path: { id: wallet.wallet_id }, query: { limit: 30 } } }));
  return { wallet, usage, instances: instances.items, keys: keys.items, packs: packs.items, statement: statement.items, welcome: event.url.searchParams.has('welcome') };
};

function requireUser(event: RequestEvent) {
  if (!event.locals.user) error(401, 'Your session has ended. Please sign in again.');
}

export const actions: Actions = {
  createKey: async (event) => {
    requireUser(event);
    const form = await event.request.formData();
    const name = String(form.get('name') ?? '').trim();
    const instanceId = String(form.get('instance_id') ?? '');
    const scopes = form.getAll('scopes').map(String).filter(isScope);
    if (!name || name.length > 80) return fail(400, { action: 'createKey', message: 'Give the key a name (up to 80 characters).' });
    if (scopes.length === 0) return fail(400, { action: 'createKey', message: 'Choose what the key may do: run agents, read balance and usage, or both.' });
    try {
      const key = await data(apiClient(event).POST('/v1/api-keys', { body: { name, scopes, ...(instanceId ? { instance_id: instanceId } : {}) } }));
      // The secret exists only in this answer, so it is returned to the page rather than redirected away.
      return { action: 'createKey', created: { name: key.name, secret: key.secret } };
    } catch (err) {
      const f = apiFailure(err);
      return fail(f.status, { action: 'createKey', message: f.message });
    }
  },

  revokeKey: async (event) => {
    requireUser(event);
    const id = String((await event.request.formData()).get('id') ?? '');
    if (!/^[0-9a-f-]{36}$/.test(id)) return fail(400, { action: 'revokeKey', message: 'Unknown key.' });
    try {
      await data(apiClient(event).DELETE('/v1/api-keys/{id}', { params: { path: { id } } }));
    } catch (err) {
      const f = apiFailure(err);
      return fail(f.status, { action: 'revokeKey', message: f.message });
    }
    redirect(303, '/workspace#keys');
  },

  unsubscribe: async (event) => {
    requireUser(event);
    const id = String((await event.request.formData()).get('id') ?? '');
    if (!/^[0-9a-f-]{36}$/.test(id)) return fail(400, { action: 'unsubscribe', message: 'Unknown instance.' });
    try {
      await data(apiClient(event).DELETE('/v1/instances/{id}', { params: { path: { id } } }));
    } catch (err) {
      const f = apiFailure(err);
      return fail(f.status, { action: 'unsubscribe', message: f.message });
    }
    redirect(303, '/workspace#instances');
  },

  buyCredits: async (event) => {
    requireUser(event);
    const form = await event.request.formData();
    const code = String(form.get('code') ?? '');
    const quantity = Number(form.get('quantity') ?? 1);
    if (!/^[a-z0-9-]{1,30}$/.test(code)) return fail(400, { action: 'buyCredits', message: 'Choose a credit pack.' });
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > 100) return fail(400, { action: 'buyCredits', message: 'Quantity must be 1 to 100.' });
    let checkout: { payment_url: string | null };
    try {
      checkout = await data(apiClient(event).POST('/v1/checkout', {
        body: { items: [{ type: 'credit_pack', code, quantity }], return_url: `${event.url.origin}/orders/return` },
      }));
    } catch (err) {
      const f = apiFailure(err);
      return fail(f.status, { action: 'buyCredits', message: f.message });
    }
    if (!checkout.payment_url) return fail(502, { action: 'buyCredits', message: 'The payment page is not available right now.' });
    redirect(303, checkout.payment_url);
  },
};
