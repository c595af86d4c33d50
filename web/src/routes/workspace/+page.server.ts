import { error, fail, redirect } from '@sveltejs/kit';
import { apiClient, orFail, data } from '$lib/server/api';
import type { ApiKeyScope } from '$lib/types';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

// Every scope the API knows, and only those: the generated types make a missing or unknown one a type error.
const SCOPES: Record<ApiKeyScope, true> = { runs: true, 'usage:read': true };
const isScope = (s: string): s is ApiKeyScope => Object.hasOwn(SCOPES, s);
const UUID = /^[0-9a-f-]{36}$/;

export const load: PageServerLoad = async (event) => {
  if (!event.locals.user) redirect(303, '/auth/login?return_to=/workspace');
  event.depends('app:workspace');
  const api = apiClient(event);
  const workspace = event.locals.workspace;
  // What the page shows follows the person's workspace role (docs/teams.md): the statement and credit packs are the
  // owners', invitations the admins' and owners'.
  const role = workspace?.role ?? 'member';
  const isOwner = role === 'owner';
  const isAdmin = role !== 'member';
  const orgPath = { path: { orgId: workspace?.id ?? '' } };
  const [wallet, usage, instances, keys, packs, members, invitations] = await Promise.all([
    data(api.GET('/v1/wallet')),
    data(api.GET('/v1/usage', { params: { query: { days: 30 } } })),
    data(api.GET('/v1/instances')),
    data(api.GET('/v1/api-keys')),
    isOwner ? data(apiClient(event, { anonymous: true }).GET('/v1/credit-packs')) : { items: [] },
    workspace ? data(api.GET('/v1/orgs/{orgId}/members', { params: orgPath })) : { items: [] },
    workspace && isAdmin ? data(api.GET('/v1/orgs/{orgId}/invitations', { params: orgPath })) : { items: [] },
  ]);
  const statement = isOwner ? (await data(api.GET('/v1/wallets/{id}/transfers', { params: { path: { id: wallet.wallet_id }, query: { limit: 30 } } }))).items : null;
  const removing = event.url.searchParams.get('remove');
  return {
    wallet, usage, instances: instances.items, keys: keys.items, packs: packs.items, statement, welcome: event.url.searchParams.has('welcome'),
    joined: event.url.searchParams.has('joined'), workspace, role, members: members.items,
    invitations: invitations.items.filter((i) => i.state === 'pending'),
    removing: removing && UUID.test(removing) ? (members.items.find((m) => m.user_id === removing) ?? null) : null,
  };
};

function orgIdOf(event: RequestEvent): string {
  const id = event.locals.workspace?.id;
  if (!id) error(404, 'You have no workspace yet.');
  return id;
}

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
    const key = await orFail(data(apiClient(event).POST('/v1/api-keys', { body: { name, scopes, ...(instanceId ? { instance_id: instanceId } : {}) } })), { action: 'createKey' });
    if (!key.ok) return key.failure;
    // The secret exists only in this answer, so it is returned to the page rather than redirected away.
    return { action: 'createKey', created: { name: key.value.name, secret: key.value.secret } };
  },

  revokeKey: async (event) => {
    requireUser(event);
    const id = String((await event.request.formData()).get('id') ?? '');
    if (!/^[0-9a-f-]{36}$/.test(id)) return fail(400, { action: 'revokeKey', message: 'Unknown key.' });
    const done = await orFail(data(apiClient(event).DELETE('/v1/api-keys/{id}', { params: { path: { id } } })), { action: 'revokeKey' });
    if (!done.ok) return done.failure;
    redirect(303, '/workspace#keys');
  },

  unsubscribe: async (event) => {
    requireUser(event);
    const id = String((await event.request.formData()).get('id') ?? '');
    if (!/^[0-9a-f-]{36}$/.test(id)) return fail(400, { action: 'unsubscribe', message: 'Unknown instance.' });
    const done = await orFail(data(apiClient(event).DELETE('/v1/instances/{id}', { params: { path: { id } } })), { action: 'unsubscribe' });
    if (!done.ok) return done.failure;
    redirect(303, '/workspace#instances');
  },

  invite: async (event) => {
    requireUser(event);
    const form = await event.request.formData();
    const email = String(form.get('email') ?? '').trim();
    const role = String(form.get('role') ?? 'member');
    if (!/^[^@\s]+@[^@\s]+$/.test(email) || email.length > 254) return fail(400, { action: 'invite', message: 'Enter the email address of the person to invite.' });
    if (role !== 'member' && role !== 'admin' && role !== 'owner') return fail(400, { action: 'invite', message: 'Choose a role.' });
    const done = await orFail(data(apiClient(event).POST('/v1/orgs/{orgId}/invitations', { params: { path: { orgId: orgIdOf(event) } }, body: { email, role } })), { action: 'invite' });
    if (!done.ok) return done.failure;
    return { action: 'invite', invited: email };
  },

  revokeInvitation: async (event) => {
    requireUser(event);
    const id = String((await event.request.formData()).get('id') ?? '');
    if (!UUID.test(id)) return fail(400, { action: 'revokeInvitation', message: 'Unknown invitation.' });
    const done = await orFail(data(apiClient(event).DELETE('/v1/orgs/{orgId}/invitations/{id}', { params: { path: { orgId: orgIdOf(event), id } } })), { action: 'revokeInvitation' });
    if (!done.ok) return done.failure;
    redirect(303, '/workspace#members');
  },

  changeRole: async (event) => {
    requireUser(event);
    const form = await event.request.formData();
    const userId = String(form.get('user_id') ?? '');
    const role = String(form.get('role') ?? '');
    if (!UUID.test(userId) || (role !== 'member' && role !== 'admin' && role !== 'owner')) return fail(400, { action: 'members', message: 'Choose a member and a role.' });
    const done = await orFail(data(apiClient(event).PATCH('/v1/orgs/{orgId}/members/{userId}', { params: { path: { orgId: orgIdOf(event), userId } }, body: { role } })), { action: 'members' });
    if (!done.ok) return done.failure;
    redirect(303, '/workspace#members');
  },

  removeMember: async (event) => {
    requireUser(event);
    const userId = String((await event.request.formData()).get('user_id') ?? '');
    if (!UUID.test(userId)) return fail(400, { action: 'members', message: 'Unknown member.' });
    const done = await orFail(data(apiClient(event).DELETE('/v1/orgs/{orgId}/members/{userId}', { params: { path: { orgId: orgIdOf(event), userId } } })), { action: 'members' });
    if (!done.ok) return done.failure;
    redirect(303, '/workspace#members');
  },

  leave: async (event) => {
    requireUser(event);
    const done = await orFail(data(apiClient(event).POST('/v1/orgs/{orgId}/leave', { params: { path: { orgId: orgIdOf(event) } } })), { action: 'members' });
    if (!done.ok) return done.failure;
    // The switcher's choice is no longer theirs: the next page falls back to their first workspace.
    redirect(303, '/workspace');
  },

  buyCredits: async (event) => {
    requireUser(event);
    const form = await event.request.formData();
    const code = String(form.get('code') ?? '');
    const quantity = Number(form.get('quantity') ?? 1);
    if (!/^[a-z0-9-]{1,30}$/.test(code)) return fail(400, { action: 'buyCredits', message: 'Choose a credit pack.' });
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > 100) return fail(400, { action: 'buyCredits', message: 'Quantity must be 1 to 100.' });
    const checkout = await orFail(data(apiClient(event).POST('/v1/checkout', {
      body: { items: [{ type: 'credit_pack', code, quantity }], return_url: `${event.url.origin}/orders/return` },
    })), { action: 'buyCredits' });
    if (!checkout.ok) return checkout.failure;
    if (!checkout.value.payment_url) return fail(502, { action: 'buyCredits', message: 'The payment page is not available right now.' });
    redirect(303, checkout.value.payment_url);
  },
};
