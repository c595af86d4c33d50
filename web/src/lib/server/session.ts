// The server-side session: the user's tokens sealed with AES-256-GCM into
// httpOnly cookies. The key is derived (HKDF) from the session secret, so the
// store stays stateless: any instance can open any session. Keycloak's three
// tokens sealed together outgrow one cookie (browsers drop cookies over 4 KB),
// so the sealed value is split over cmp_session, cmp_session.1, ….
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Cookies } from '@sveltejs/kit';
import { secureCookies, sessionSecret } from './env';

export const SESSION_COOKIE = 'cmp_session';
const LOGIN_COOKIE = 'cmp_login';
/** Sessions end after this long even if the refresh token lives longer. */
const SESSION_MAX_AGE_S = 8 * 3600;

export interface SessionUser {
  subject: string;
  email: string;
  name: string;
  roles: string[];
}

export interface Session {
  user: SessionUser;
  accessToken: string;
  /** Epoch seconds when the access token expires. */
  expiresAt: number;
  refreshToken: string | null;
  idToken: string | null;
}

/** What the login redirect must remember until the callback: PKCE verifier, state, nonce. */
export interface PendingLogin {
  verifier: string;
  state: string;
  nonce: string;
  returnTo: string;
}

let keyCache: { secret: string; purpose: string; key: Buffer }[] = [];
function keyFor(purpose: string): Buffer {
  const secret = sessionSecret();
  const hit = keyCache.find((k) => k.secret === secret && k.purpose === purpose);
  if (hit) return hit.key;
  const key = Buffer.from(hkdfSync('sha256', secret, 'cmp-store', `cmp-store ${purpose} v1`, 32));
  keyCache = [...keyCache.slice(-3), { secret, purpose, key }];
  return key;
}

export function seal(value: unknown, purpose: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(purpose), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The sealed value, or null when it was tampered with, sealed for another purpose, or malformed. */
export function unseal<T>(sealed: string | undefined, purpose: string): T | null {
  if (!sealed) return null;
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', keyFor(purpose), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

const cookieOptions = (url: URL, maxAge: number) => ({ path: '/', httpOnly: true, sameSite: 'lax' as const, secure: secureCookies(url), maxAge });

/** Below the 4096 bytes browsers keep per cookie, leaving room for the name and attributes. */
const CHUNK = 3800;
/** A session never needs more chunks than this; the bound keeps a crafted request from making us read more. */
const MAX_CHUNKS = 4;
const chunkName = (i: number) => (i === 0 ? SESSION_COOKIE : `${SESSION_COOKIE}.${i}`);

export function readSession(cookies: Cookies): Session | null {
  let sealed = '';
  for (let i = 0; i < MAX_CHUNKS; i++) {
    const part = cookies.get(chunkName(i));
    if (!part) break;
    sealed += part;
  }
  return unseal<Session>(sealed, 'session');
}

export function writeSession(cookies: Cookies, url: URL, session: Session): void {
  const sealed = seal(session, 'session');
  const count = Math.ceil(sealed.length / CHUNK);
  if (count > MAX_CHUNKS) throw new Error(`The session is too large for ${MAX_CHUNKS} cookies (${sealed.length} bytes sealed)`);
  for (let i = 0; i < MAX_CHUNKS; i++) {
    if (i < count) cookies.set(chunkName(i), sealed.slice(i * CHUNK, (i + 1) * CHUNK), cookieOptions(url, SESSION_MAX_AGE_S));
    // A shorter session (after a refresh) must not leave an old chunk behind to be glued on.
    else if (cookies.get(chunkName(i))) cookies.delete(chunkName(i), { path: '/' });
  }
}

export function clearSession(cookies: Cookies): void {
  for (let i = 0; i < MAX_CHUNKS; i++) if (i === 0 || cookies.get(chunkName(i))) cookies.delete(chunkName(i), { path: '/' });
}

export const readPendingLogin = (cookies: Cookies) => unseal<PendingLogin>(cookies.get(LOGIN_COOKIE), 'login');
export function writePendingLogin(cookies: Cookies, url: URL, login: PendingLogin): void {
  // Ten minutes to sign in at the provider.
  cookies.set(LOGIN_COOKIE, seal(login, 'login'), cookieOptions(url, 600));
}
export function clearPendingLogin(cookies: Cookies): void {
  cookies.delete(LOGIN_COOKIE, { path: '/' });
}

/** Only same-site paths: a return address must never send the user elsewhere. */
export function safeReturnTo(value: string | null | undefined, fallback = '/workspace'): string {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return fallback;
  return value;
}
