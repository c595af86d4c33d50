// The knex migrations run on an empty database, roll back cleanly to nothing,
// and apply again (append-only history, tested up-then-down on real PostgreSQL).
import { afterAll, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createDb } from '../../core/db';
import { repoRoot } from '../../deploy/local/stack';
import { testConfig } from '../support/stack';

const base = testConfig().DATABASE_URL;
const name = `cmp_m_${randomBytes(4).toString('hex')}`;
const admin = createDb(base, 1);
afterAll(async () => {
  await admin.raw(`drop database if exists ${name} with (force)`);
  await admin.destroy();
});

const tables = async (db: ReturnType<typeof createDb>) =>
  (await db('pg_tables').where('schemaname', 'public').pluck('tablename')).filter((t: string) => !t.startsWith('knex_')).sort();

it('migrates an empty database up, all the way down, and up again', async () => {
  await admin.raw(`create database ${name}`);
  const db = createDb(base.replace(/\/cmp$/, `/${name}`), 1);
  try {
    const [, applied] = await db.migrate.latest();
    // Every file in migrations/, in order, and nothing else: a file missing from core/db/migration-source.ts fails here.
    const files = fs.readdirSync(path.join(repoRoot, 'migrations')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '')).sort();
    expect(files.length).toBeGreaterThan(0);
    expect(applied).toEqual(files);
    const up = await tables(db);
    expect(up).toEqual(expect.arrayContaining(['users', 'organizations', 'offerings', 'instances', 'api_keys', 'accounts', 'transfers', 'orders', 'runs', 'audit_log', 'idempotency_keys', 'rate_limit_windows']));
    const [, undone] = await db.migrate.rollback(undefined, true);
    expect(undone).toHaveLength(applied.length);
    expect(await tables(db)).toEqual([]);
    await db.migrate.latest();
    expect(await tables(db)).toEqual(up);
  } finally {
    await db.destroy();
  }
});
