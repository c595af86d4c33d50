import { error, fail, redirect } from '@sveltejs/kit';
import { api, apiFailure } from '$lib/server/api';
import type { ApiKey, CreditPack, Instance } from '$lib/types';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

interface Wallet { wallet_id: string; available_mc: number; posted_mc: number; held_mc: number }
interface Usage { days: { date: string; runs: number; failed_runs: number; credits_mc: number; tokens: number }[]; totals: { runs: number; failed_runs: number; credits_mc: number; tokens: number } }
interface StatementEntry { transfer_id: string; kind: string; label: string; amount_mc: number; transfer_amount_mc: number; reason: string; run_id: string | null; order_id: string | null; created_at: string }

export const load: PageServerLoad = async (event) => {
  if (!event.locals.user) redirect(303, '/auth/login?return_to=/workspace');
  event.depends('app:workspace');
  const [wallet, usage, instances, keys, packs] = await Promise.all([
    api<Wallet>(event, '/v1/wallet'),
    api<Usage>(event, '/v1/usage', { query: { days: 30 } }),
    api<{ items: Instance[] }>(event, '/v1/instances'),
    api<{ items: ApiKey[] }>(event, '/v1/api-keys'),
    api<{ items: CreditPack[] }>(event, '/v1/credit-packs', { anonymous: true }),
  ]);
  const statement = await api<{ items: StatementEntry[] }>(event, `/v1/wallets/${wallet.wallet_id}/transfers`, { query: { limit: 30 } });
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
    const scopes = form.getAll('scopes').map(String).filter((s) => s === 'runs' || s === 'usage:read');
    if (!name || name.length > 80) return fail(400, { action: 'createKey', message: 'Give the key a name (up to 80 characters).' });
    if (scopes.length === 0) return fail(400, { action: 'createKey', message: 'Choose what the key may do: run agents, read balance and usage, or both.' });
    try {
      const key = await api<{ secret: string; name: string }>(event, '/v1/api-keys', { method: 'POST', body: { name, scopes, ...(instanceId ? { instance_id: instanceId } : {}) } });
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
      await api(event, `/v1/api-keys/${id}`, { method: 'DELETE' });
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
      await api(event, `/v1/instances/${id}`, { method: 'DELETE' });
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
      checkout = await api(event, '/v1/checkout', {
        method: 'POST', body: { items: [{ type: 'credit_pack', code, quantity }], return_url: `${event.url.origin}/orders/return` },
      });
    } catch (err) {
      const f = apiFailure(err);
      return fail(f.status, { action: 'buyCredits', message: f.message });
    }
    if (!checkout.payment_url) return fail(502, { action: 'buyCredits', message: 'The payment page is not available right now.' });
    redirect(303, checkout.payment_url);
  },
};
