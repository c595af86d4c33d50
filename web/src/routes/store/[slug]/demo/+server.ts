// The demo chat's endpoint: one message to the agent, paid from the visitor's
// free demo messages. The API's answer (200, or 402 when they are used up)
// goes back to the chat as JSON with its status.
import { error, json } from '@sveltejs/kit';
import { demoCall } from '$lib/server/demo';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = async (event) => {
  const body = (await event.request.json().catch(() => null)) as { input?: unknown } | null;
  const input = typeof body?.input === 'string' ? body.input.trim() : '';
  if (!input || input.length > 4000) error(400, 'Write a message of 1 to 4,000 characters.');
  const res = await demoCall(event, '/v1/demo/runs', { method: 'POST', body: { agent: event.params.slug, input } });
  if (res.status === 402) {
    return json({ demo_messages_left: 0, sign_in_url: `/auth/login?return_to=${encodeURIComponent(`/store/${event.params.slug}`)}`, detail: res.body?.detail }, { status: 402 });
  }
  if (res.status !== 200) return json({ detail: res.body?.detail ?? res.body?.title ?? 'The agent could not answer.' }, { status: res.status });
  return json(res.body);
};
