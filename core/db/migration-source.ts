// The migrations, imported statically so whatever runs the code (tsx, vitest,
// a bundle) compiles them too; knex's directory loader would need a TypeScript
// loader of its own. Append new migrations at the end, never edit old ones.
import type { Knex } from 'knex';
import * as m001 from '../../migrations/20261125_001_tenancy_catalog';
import * as m002 from '../../migrations/20261125_002_ledger';
import * as m003 from '../../migrations/20261125_003_runs';
import * as m004 from '../../migrations/20261125_004_connectors';
import * as m005 from '../../migrations/20261125_005_ledger_plans';
import * as m006 from '../../migrations/20261201_006_ledger_optimistic_batches';
import * as m007 from '../../migrations/20261201_007_ledger_guards_and_expiry';
import * as m008 from '../../migrations/20261201_008_ledger_write_lean';
import * as m009 from '../../migrations/20261201_009_ledger_write_hold_lookup';
import * as m010 from '../../migrations/20261201_010_ledger_load_skip_empty';

const migrations: Record<string, Knex.Migration> = {
  '20261125_001_tenancy_catalog': m001,
  '20261125_002_ledger': m002,
  '20261125_003_runs': m003,
  '20261125_004_connectors': m004,
  '20261125_005_ledger_plans': m005,
  '20261201_006_ledger_optimistic_batches': m006,
  '20261201_007_ledger_guards_and_expiry': m007,
  '20261201_008_ledger_write_lean': m008,
  '20261201_009_ledger_write_hold_lookup': m009,
  '20261201_010_ledger_load_skip_empty': m010,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
