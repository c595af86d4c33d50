import { error, fail, redirect } from '@sveltejs/kit';
import { apiClient, orFail, data } from '$lib/server/api';
import type { paths } from '$lib/api/schema';
import type { Order } from '$lib/types';
import type { Actions, PageServerLoad, RequestEvent } from './$types';

interface PendingActivity { activity: string; attempt: number; state: string; last_failure: string | null; next_attempt_at: string | null }
interface AuditEntry { id: number; actor: string; action: string; reason: string | null; createdAt: string; data: unknown }

export const load: PageServerLoad = async (event) => {
  event.depends('app:support-order');
  const answer = await data(apiClient(event).GET('/v1/support/orders/{id}', { params: { path: { id: event.params.id } } }));
  // The order's progress, its pending activities and audit entries are typed loosely in the API's document; the page reads these fields.
  const order = answer as unknown as Order & { temporal_url: string; pending_activities: PendingActivity[]; audit: AuditEntry[] };
  return { order };
};

/** Retry and cancel both need the support role (checked again by the API), a reason and an explicit confirmation. */
async function signal(event: RequestEvent, action: 'retry' | 'cancel') {
  if (!event.locals.user?.roles.includes('support')) error(403, 'This needs the support role.');
  const form = await event.request.formData();
  const reason = String(form.get('reason') ?? '').trim();
  if (reason.length < 3 || reason.length > 500) return fail(400, { action, reason, message: 'Say why, in 3 to 500 characters.' });
  if (form.get('confirm') !== 'yes') return fail(400, { action, reason, message: 'Tick the confirmation box first.' });
  const done = await orFail(data(apiClient(event).POST(action === 'retry' ? '/v1/support/orders/{id}/retry' : '/v1/support/orders/{id}/cancel', { params: { path: { id: event.params.id } }, body: { reason } })), { action, reason });
  if (!done.ok) return done.failure;
  redirect(303, `/support/orders/${encodeURIComponent(event.params.id)}?done=${action}`);
}

type Decision = paths['/v1/support/orders/{id}/refund-decision']['post']['requestBody']['content']['application/json']['decision'];
// Keyed by the API's generated enum: a decision added or renamed there fails the type check here.
const DECISIONS: Record<Decision, true> = { refund_unspent: true, refund_all: true, keep: true };
const isDecision = (d: string): d is Decision => Object.hasOwn(DECISIONS, d);

/** Support's refund decision after a failed compensation: which one, why, and an explicit confirmation. */
async function decide(event: RequestEvent) {
  if (!event.locals.user?.roles.includes('support')) error(403, 'This needs the support role.');
  const form = await event.request.formData();
  const reason = String(form.get('reason') ?? '').trim();
  const decision = String(form.get('decision') ?? '');
  if (!isDecision(decision)) return fail(400, { action: 'decide' as const, reason, message: 'Choose one of the three decisions.' });
  if (reason.length < 3 || reason.length > 500) return fail(400, { action: 'decide' as const, reason, message: 'Say why, in 3 to 500 characters.' });
  if (form.get('confirm') !== 'yes') return fail(400, { action: 'decide' as const, reason, message: 'Tick the confirmation box first.' });
  const done = await orFail(data(apiClient(event).POST('/v1/support/orders/{id}/refund-decision', {
    params: { path: { id: event.params.id } }, body: { reason, decision },
  })), { action: 'decide' as const, reason });
  if (!done.ok) return done.failure;
  redirect(303, `/support/orders/${encodeURIComponent(event.params.id)}?done=decide`);
}

export const actions: Actions = {
  retry: (event) => signal(event, 'retry'),
  cancel: (event) => signal(event, 'cancel'),
  decide,
};
