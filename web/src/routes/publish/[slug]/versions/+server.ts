// The upload of a version: the page reads the file, hashes it with
// SubtleCrypto and posts its text and sha256 here as JSON; this forwards both
// to the API, which refuses bytes that do not hash to what the browser computed.
// The API's answer (the version, or problem+json) goes back to the page as is.
import { error, json } from '@sveltejs/kit';
import { rawCall } from '$lib/server/api';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = async (event) => {
  if (!event.locals.user?.roles.includes('admin')) error(403, 'This needs the admin role.');
  const body = (await event.request.json().catch(() => null)) as { offering_id?: unknown; version?: unknown; changelog?: unknown; flow_json?: unknown; sha256?: unknown } | null;
  if (!body || typeof body.offering_id !== 'string' || !/^[0-9a-f-]{36}$/i.test(body.offering_id)) error(400, 'offering_id is missing');
  const res = await rawCall(event, `/v1/admin/offerings/${body.offering_id}/versions`, {
    method: 'POST',
    headers: { 'Idempotency-Key': crypto.randomUUID() },
    body: { version: body.version, changelog: body.changelog ?? '', flow_json: body.flow_json, sha256: body.sha256 },
  });
  return json(await res.json(), { status: res.status, headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' } });
};
