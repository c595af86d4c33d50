// The widget's one call: POST /v1/runs with the key the embedding site put in
// the iframe's URL. The key is sent on as the bearer token; the API decides
// what it may do (a key restricted to one instance can run only that agent).
import { error, json } from '@sveltejs/kit';
import { rawCall } from '$lib/server/api';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = async (event) => {
  const body = (await event.request.json().catch(() => null)) as { input?: unknown; key?: unknown } | null;
  const input = typeof body?.input === 'string' ? body.input.trim() : '';
  const key = typeof body?.key === 'string' ? body.key : '';
  if (!input || input.length > 4000) error(400, 'Write a message of 1 to 4,000 characters.');
  if (!/^cmp_live_[\w-]{10,200}$/.test(key)) error(401, 'This widget has no valid API key.');
  const res = await rawCall(event, '/v1/runs', {
    method: 'POST', anonymous: true, body: { agent: event.params.slug, input }, headers: { authorization: `Bearer ${key}` },
  });
  const answer = await res.json().catch(() => ({}));
  return json(res.ok ? { output: answer.output, latency_ms: answer.latency_ms, credits_charged: answer.credits_charged } : { detail: answer.detail ?? answer.title }, { status: res.status });
};
