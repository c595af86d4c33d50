// The API's Idempotency-Key records: one row per (principal, key), claimed
// by the first request and completed with its answer. The primary key decides
// races, never a "check then insert".
import type { Db } from '../db';

export interface IdempotencyRecord {
  requestHash: string;
  state: 'in_progress' | 'completed';
  responseStatus: number | null;
  responseBody: unknown;
}

export interface IdempotencyKeyStore {
  /** True when this request claimed the key; false when it was taken. */
  claim(input: { principal: string; key: string; methodPath: string; requestHash: string }): Promise<boolean>;
  get(principal: string, key: string): Promise<IdempotencyRecord | null>;
  complete(principal: string, key: string, status: number, body: unknown): Promise<void>;
  /** Frees the key (a 5xx, or an abandoned request while still in progress). */
  release(principal: string, key: string, opts?: { onlyInProgress?: boolean }): Promise<void>;
}

export class KnexIdempotencyKeyStore implements IdempotencyKeyStore {
  constructor(private readonly db: Db) {}

  async claim(input: { principal: string; key: string; methodPath: string; requestHash: string }): Promise<boolean> {
    const inserted = await this.db('idempotency_keys')
      .insert({ principal: input.principal, key: input.key, method_path: input.methodPath, request_hash: input.requestHash, state: 'in_progress' })
      .onConflict(['principal', 'key'])
      .ignore()
      .returning('key');
    return inserted.length > 0;
  }

  async get(principal: string, key: string): Promise<IdempotencyRecord | null> {
    const row = await this.db('idempotency_keys').where({ principal, key }).first();
    return row ? { requestHash: row.request_hash, state: row.state, responseStatus: row.response_status, responseBody: row.response_body } : null;
  }

  async complete(principal: string, key: string, status: number, body: unknown): Promise<void> {
    await this.db('idempotency_keys').where({ principal, key }).update({ state: 'completed', response_status: status, response_body: JSON.stringify(body ?? null) });
  }

  async release(principal: string, key: string, opts: { onlyInProgress?: boolean } = {}): Promise<void> {
    await this.db('idempotency_keys').where({ principal, key, ...(opts.onlyInProgress ? { state: 'in_progress' } : {}) }).delete();
  }
}
