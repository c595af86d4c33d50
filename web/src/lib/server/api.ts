// The store's one API client. Server-side only: it calls the API with the
// session's access token and turns every non-2xx answer into SvelteKit's
// error(status, message), so a failure is never swallowed into a 200 page.
// Calls go through openapi-fetch over the types generated from the API's
// /openapi.json ($lib/api/schema), so paths, parameters, bodies and answers
// are checked against the API at compile time.
import { error, fail, isHttpError, type ActionFailure, type RequestEvent } from '@sveltejs/kit';
import createClient from 'openapi-fetch';
import type { paths } from '$lib/api/schema';
import { apiUrl } from './env';

type Event = Pick<RequestEvent, 'locals' | 'fetch'>;

/** The signed-in person's token and the workspace they act in (the header switcher's choice). */
function authHeaders(event: Event): Record<string, string> {
  if (!event.locals.accessToken) return {};
  return {
    authorization: `Bearer ${event.locals.accessToken}`,
    ...(event.locals.workspace ? { 'x-org-id': event.locals.workspace.id } : {}),
  };
}

/** The typed client, with the session's token unless `anonymous` (public routes). */
export function apiClient(event: Event, opts: { anonymous?: boolean; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers, ...(opts.anonymous ? {} : authHeaders(event)) };
  return createClient<paths>({
    baseUrl: apiUrl(),
    headers,
    fetch: async (request) => {
      try {
        return await fetch(request, { signal: AbortSignal.timeout(30_000) });
      } catch (err) {
        console.error(`API ${request.method} ${new URL(request.url).pathname} unreachable`, err);
        error(502, 'The CMP API is unreachable right now. Please try again in a moment.');
      }
    },
  });
}

/** The answer of a typed call; any non-2xx becomes error(status, detail). */
export async function data<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data: body, error: problem, response } = await call;
  if (!response.ok) error(response.status, problemMessage(response.status, problem ?? null));
  return body as T;
}

export interface CallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  query?: Record<string, string | number | undefined | null>;
  /** Extra headers (cookie forwarding, Idempotency-Key). */
  headers?: Record<string, string>;
  /** Call without the session's token even when signed in (public routes). */
  anonymous?: boolean;
}

/** The problem+json detail of a failed call, as text for the page. */
export function problemMessage(status: number, body: unknown): string {
  const p = body as { detail?: string; title?: string; errors?: { path?: string; message?: string }[] } | null;
  const fields = p?.errors?.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).filter(Boolean).join('; ');
  return [p?.detail ?? p?.title ?? `The API answered ${status}`, fields].filter(Boolean).join(' — ');
}

/** An untyped call answering the API's raw Response: the demo forwards its cookies both ways, the embed widget passes the status and body on. */
export async function rawCall(event: Event, path: string, opts: CallOptions = {}): Promise<Response> {
  const url = new URL(`${apiUrl()}${path}`);
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (!opts.anonymous) Object.assign(headers, authHeaders(event));
  try {
    return await fetch(url, {
      method: opts.method ?? 'GET',
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    console.error(`API ${opts.method ?? 'GET'} ${path} unreachable`, err);
    error(502, 'The CMP API is unreachable right now. Please try again in a moment.');
  }
}

/**
 * For form actions: the API call's answer, or, when the API refused it (4xx), the failure for the action to return:
 * the API's status, its message and `fields` (what the form shows beside it). Anything else is rethrown.
 */
export async function orFail<T, F extends Record<string, unknown>>(
  call: Promise<T>, fields: F,
): Promise<{ ok: true; value: T } | { ok: false; failure: ActionFailure<F & { message: string }> }> {
  try {
    return { ok: true, value: await call };
  } catch (err) {
    if (isHttpError(err) && err.status < 500) return { ok: false, failure: fail(err.status, { ...fields, message: err.body.message }) };
    throw err;
  }
}
