import { error, fail, redirect } from '@sveltejs/kit';
import { apiClient, orFail, data } from '$lib/server/api';
import type { Actions, PageServerLoad } from './$types';

interface AuditEntry { id: number; orgId: string | null; actor: string; action: string; targetType: string | null; targetId: string | null; reason: string | null; data: unknown; createdAt: string }

export const load: PageServerLoad = async (event) => {
  const orgId = event.url.searchParams.get('org_id') ?? undefined;
  const before = event.url.searchParams.get('before') ?? undefined;
  const audit = await data(apiClient(event).GET('/v1/support/audit', { params: { query: { org_id: orgId, before: before ? Number(before) : undefined, limit: 50 } } }));
  // The API documents audit entries loosely (their data is free-form); the page reads these fields.
  return { audit: audit.items as unknown as AuditEntry[], orgId: orgId ?? '' };
};

export const actions: Actions = {
  /** A credit or debit on a wallet, with a reason; the API records it in the ledger and the audit trail. */
  adjust: async (event) => {
    if (!event.locals.user?.roles.includes('support')) error(403, 'This needs the support role.');
    const form = await event.request.formData();
    const walletId = String(form.get('wallet_id') ?? '').trim();
    const amount = Number(String(form.get('credits') ?? '').replace(',', '.'));
    const reason = String(form.get('reason') ?? '').trim();
    const values = { wallet_id: walletId, credits: String(form.get('credits') ?? ''), reason };
    if (!/^[0-9a-f-]{36}$/i.test(walletId)) return fail(400, { ...values, message: 'Enter the wallet id (a UUID).' });
    if (!Number.isFinite(amount) || amount === 0 || Math.abs(amount) > 1e9) return fail(400, { ...values, message: 'Enter a non-zero amount of credits (negative to debit).' });
    if (reason.length < 3 || reason.length > 500) return fail(400, { ...values, message: 'Say why, in 3 to 500 characters.' });
    if (form.get('confirm') !== 'yes') return fail(400, { ...values, message: 'Tick the confirmation box first.' });
    const done = await orFail(data(apiClient(event, { headers: { 'Idempotency-Key': crypto.randomUUID() } }).POST('/v1/support/wallets/{id}/adjustments', {
      params: { path: { id: walletId } }, body: { amount_mc: Math.round(amount * 1000), reason },
    })), { ...values });
    if (!done.ok) return done.failure;
    redirect(303, '/support/audit?adjusted=1');
  },
};
