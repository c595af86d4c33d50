// Opaque pagination cursors: base64url JSON, validated on the way in so a
// tampered cursor is a 400, never a 500.
import { validation } from '../core/errors';

export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T extends Record<string, string | number>>(cursor: string | undefined, keys: (keyof T)[]): T | undefined {
  if (!cursor) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as T;
    if (value && typeof value === 'object' && keys.every((k) => ['string', 'number'].includes(typeof value[k]))) return value;
  } catch {
    /* fall through */
  }
  throw validation('The cursor is not valid', [{ path: 'cursor', message: 'invalid cursor' }]);
}
