// PostgreSQL through knex. Amounts are bigint millicredits: pg returns int8 as
// strings, so we parse them to numbers (safe below 2^53 millicredits, about
// 9 billion credits, far past any wallet) in one place: here.
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { migrationSource } from './migration-source';

pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

export type Db = Knex;

export function createDb(databaseUrl: string, poolMax = 10): Db {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: databaseUrl, application_name: 'cmp' },
    pool: { min: 0, max: poolMax },
    migrations: { migrationSource, tableName: 'knex_migrations' },
  });
}

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest()) as [number, string[]];
  return applied;
}

export async function pingDb(db: Db): Promise<void> {
  await db.raw('select 1');
}
