// findByEmail on a fresh database: any case finds the one user, and two users
// sharing an email is a permanent refusal (the order parks for support) rather
// than an arbitrary pick; the lookup has its expression index.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { toActivityFailure } from '../../activities/failures';
import { AmbiguousEmailError, createKnexUserStore, type UserStore } from '../../core/identity';
import type { Db } from '../../core/db';
import { freshDatabase } from '../support/stack';

let db: Db;
let drop: () => Promise<void>;
let users: UserStore;

beforeAll(async () => {
  ({ db, drop } = await freshDatabase());
  users = createKnexUserStore(db);
});
afterAll(() => drop());

describe('UserStore.findByEmail', () => {
  it('finds the one user whatever the case, and nothing for an unknown email', async () => {
    const one = await users.upsertFromToken({ subject: 'email-one', email: 'One@cmp.local', name: null });
    expect(await users.findByEmail('one@CMP.local')).toEqual(one);
    expect(await users.findByEmail('nobody@cmp.local')).toBeUndefined();
  });

  it('refuses, permanently, when two users share the email', async () => {
    await users.upsertFromToken({ subject: 'email-twin-a', email: 'twin@cmp.local', name: null });
    await users.upsertFromToken({ subject: 'email-twin-b', email: 'TWIN@cmp.local', name: null });
    const err = await users.findByEmail('twin@cmp.local').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AmbiguousEmailError);
    const failure = toActivityFailure(err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'AmbiguousEmailError', nonRetryable: true });
  });

  it('has an index on lower(email)', async () => {
    const { rows } = await db.raw<{ rows: { indexdef: string }[] }>(`select indexdef from pg_indexes where tablename = 'users' and indexname = 'users_email_lower_idx'`);
    expect(rows[0]?.indexdef).toMatch(/lower\(email\)/);
  });
});
