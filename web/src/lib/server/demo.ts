// Demo messages go through the store's server, which forwards the visitor's
// cmp_demo cookie to the API and the API's cookie back to the browser, and
// says who the visitor is (X-Forwarded-For) so the API's per-address limits
// see the visitor, not the store.
import type { RequestEvent } from '@sveltejs/kit';
import { rawCall, type CallOptions } from './api';
import { secureCookies } from './env';

const DEMO_COOKIE = 'cmp_demo';

export async function demoCall(event: RequestEvent, path: string, opts: CallOptions = {}): Promise<{ status: number; body: any }> {
  const visitor = event.cookies.get(DEMO_COOKIE);
  const res = await rawCall(event, path, {
    ...opts,
    anonymous: true,
    headers: {
      ...opts.headers,
      'x-forwarded-for': event.getClientAddress(),
      ...(visitor ? { cookie: `${DEMO_COOKIE}=${encodeURIComponent(visitor)}` } : {}),
    },
  });
  for (const line of res.headers.getSetCookie()) {
    const match = /^cmp_demo=([^;]*)/.exec(line);
    if (!match) continue;
    const maxAge = /max-age=(\d+)/i.exec(line)?.[1];
    event.cookies.set(DEMO_COOKIE, decodeURIComponent(match[1]!), {
      path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookies(event.url), maxAge: maxAge ? Number(maxAge) : 30 * 86400,
    });
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { detail: text };
  }
  return { status: res.status, body };
}

export const hasDemoCookie = (event: RequestEvent) => Boolean(event.cookies.get(DEMO_COOKIE));
