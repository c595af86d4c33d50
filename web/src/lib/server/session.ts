// The server-side session: the user's tokens sealed with AES-256-GCM into an
// httpOnly cookie. The key is derived (HKDF) from the session secret, so the
// store stays stateless: any instance can open any session.
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

export const readSession = (cookies: Cookies) => unseal<Session>(cookies.get(SESSION_COOKIE), 'session');
export function writeSession(cookies: Cookies, url: URL, session: Session): void {
  cookies.set(SESSION_COOKIE, seal(session, 'session'), cookieOptions(url, SESSION_MAX_AGE_S));
}
export function clearSession(cookies: Cookies): void {
  cookies.delete(SESSION_COOKIE, { path: '/' });
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
