// Fixed one-minute windows counted in PostgreSQL, so every API replica shares
// them. One statement counts all the request's keys (per API key and per
// organization) and returns their counts.
import type { Db } from '../db';
import { AppError } from '../errors';

export interface Limit {
  key: string;
  limit: number;
}

export interface RateDecision {
  allowed: boolean;
  /** The tightest of the limits, for the RateLimit headers. */
  limit: number;
  remaining: number;
  resetSeconds: number;
  exceeded?: string;
}

const WINDOW_S = 60;

export class RateLimiter {
  private lastSweep = 0;

  constructor(private readonly db: Db) {}

  async consume(limits: Limit[], now = new Date()): Promise<RateDecision> {
    const windowStart = new Date(Math.floor(now.getTime() / (WINDOW_S * 1000)) * WINDOW_S * 1000);
    const resetSeconds = Math.max(1, Math.ceil((windowStart.getTime() + WINDOW_S * 1000 - now.getTime()) / 1000));
    const values = limits.map(() => '(?, ?, 1)').join(', ');
    const { rows } = await this.db.raw(
      `insert into rate_limit_windows (key, window_start, count) values ${values}
       on conflict (key, window_start) do update set count = rate_limit_windows.count + 1
       returning key, count`,
      limits.flatMap((l) => [l.key, windowStart]),
    );
    const counts = new Map((rows as { key: string; count: number }[]).map((r) => [r.key, r.count]));
    let tightest = { limit: Infinity, remaining: Infinity };
    let exceeded: string | undefined;
    for (const l of limits) {
      const used = counts.get(l.key) ?? 0;
      const remaining = Math.max(0, l.limit - used);
      if (used > l.limit && !exceeded) exceeded = l.key;
      if (remaining < tightest.remaining) tightest = { limit: l.limit, remaining };
    }
    this.sweep(now);
    return { allowed: !exceeded, limit: tightest.limit, remaining: tightest.remaining, resetSeconds, exceeded };
  }

  /** Old windows are deleted now and then, off the request path. */
  private sweep(now: Date): void {
    if (now.getTime() - this.lastSweep < 60_000) return;
    this.lastSweep = now.getTime();
    this.db('rate_limit_windows').where('window_start', '<', new Date(now.getTime() - 10 * WINDOW_S * 1000)).delete().catch(() => undefined);
  }
}

export function rateLimitHeaders(d: RateDecision): Record<string, string> {
  return {
    'RateLimit-Policy': `${d.limit};w=${WINDOW_S}`,
    RateLimit: `limit=${d.limit}, remaining=${d.remaining}, reset=${d.resetSeconds}`,
  };
}

export function rateLimited(d: RateDecision): AppError {
  const scope = d.exceeded?.startsWith('org:') ? 'your organization' : d.exceeded?.startsWith('ip:') ? 'this address' : 'this API key';
  return new AppError('rate-limited', 'Rate limited', `Too many requests for ${scope}; retry in ${d.resetSeconds} s`, { retry_after_s: d.resetSeconds }, {
    ...rateLimitHeaders(d),
    'Retry-After': String(d.resetSeconds),
  });
}
