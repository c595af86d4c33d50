// API keys: `cmp_live_<prefix>_<secret>`. Only the prefix (to find the row)
// and the SHA-256 of the whole key are stored; the key is shown once. Lookup
// compares hashes in constant time. last_used_at is written off the request's
// critical path, at most once a minute per key.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db';
import { notFound, validation } from '../errors';

export const API_KEY_PREFIX = 'cmp_live_';

/** What a key may do: `runs` calls agents; `usage:read` reads the organization's balance and usage. */
export const API_KEY_SCOPES = ['runs', 'usage:read'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export interface ApiKey {
  id: string;
  orgId: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  instanceId: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  /** The user who created it; removing them from the workspace revokes it. */
  createdBy: string | null;
  createdByEmail?: string | null;
}

export interface CreatedApiKey extends ApiKey {
  /** The whole key; returned once, never stored. */
  secret: string;
}

const KEY_RE = /^cmp_live_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? null : String(v));

const toKey = (r: Record<string, any>): ApiKey => ({
  id: r.id, orgId: r.org_id, name: r.name, prefix: r.prefix, scopes: r.scopes, instanceId: r.instance_id,
  createdAt: iso(r.created_at)!, lastUsedAt: iso(r.last_used_at), revokedAt: iso(r.revoked_at),
  createdBy: r.created_by ?? null, createdByEmail: r.created_by_email ?? null,
});

export class ApiKeyStore {
  private readonly lastTouched = new Map<string, number>();

  constructor(private readonly db: Db) {}

  async create(input: { orgId: string; name: string; createdBy: string | null; instanceId?: string | null; scopes?: ApiKeyScope[] }): Promise<CreatedApiKey> {
    if (input.instanceId) {
      const instance = await this.db('instances').where({ id: input.instanceId, org_id: input.orgId }).first();
      if (!instance) throw validation('The instance does not exist in this organization', [{ path: 'instance_id', message: 'unknown instance' }]);
    }
    const prefix = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 12);
    const secret = `${API_KEY_PREFIX}${prefix}_${randomBytes(32).toString('base64url')}`;
    const [row] = await this.db('api_keys')
      .insert({
        org_id: input.orgId, name: input.name, prefix, key_hash: sha256(secret), scopes: input.scopes?.length ? [...new Set(input.scopes)] : ['runs'],
        instance_id: input.instanceId ?? null, created_by: input.createdBy,
      })
      .returning('*');
    return { ...toKey(row), secret };
  }

  /** The organization's keys with their creators' emails; only one person's when `createdBy` is given. */
  async list(orgId: string, filter: { createdBy?: string } = {}): Promise<ApiKey[]> {
    const rows = await this.db('api_keys as k')
      .leftJoin('users as u', 'u.id', 'k.created_by')
      .where('k.org_id', orgId)
      .modify((q) => {
        if (filter.createdBy) q.where('k.created_by', filter.createdBy);
      })
      .select('k.*', 'u.email as created_by_email')
      .orderBy('k.created_at', 'desc');
    return rows.map(toKey);
  }

  /** Every live key restricted to the instance stops working (it was deprovisioned). */
  async revokeForInstance(instanceId: string): Promise<void> {
    await this.db('api_keys').where('instance_id', instanceId).whereNull('revoked_at').update({ revoked_at: this.db.fn.now() });
  }

  /** Revokes a key of the organization; with `createdBy`, only that person's key (a member revoking their own). */
  async revoke(orgId: string, id: string, filter: { createdBy?: string } = {}): Promise<ApiKey> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw notFound(`API key ${id}`);
    const [row] = await this.db('api_keys')
      .where({ id, org_id: orgId, ...(filter.createdBy ? { created_by: filter.createdBy } : {}) })
      .update({ revoked_at: this.db.raw('coalesce(revoked_at, now())') })
      .returning('*');
    if (!row) throw notFound(`API key ${id}`);
    return toKey(row);
  }

  /** The live key matching a presented secret, or null. Revocation takes effect on the next request. */
  async authenticate(presented: string): Promise<ApiKey | null> {
    const m = KEY_RE.exec(presented);
    if (!m) return null;
    const row = await this.db('api_keys').where('prefix', m[1]).whereNull('revoked_at').first();
    if (!row) return null;
    const expected: Buffer = row.key_hash;
    const actual = sha256(presented);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
    this.touch(row.id);
    return toKey(row);
  }

  private touch(id: string): void {
    const now = Date.now();
    if (now - (this.lastTouched.get(id) ?? 0) < 60_000) return;
    this.lastTouched.set(id, now);
    // Fire and forget: a lost update of last_used_at is harmless, a slower request is not.
    this.db('api_keys').where('id', id).update({ last_used_at: this.db.fn.now() }).catch(() => this.lastTouched.delete(id));
  }
}
