// The migrations, imported statically so whatever runs the code (tsx, vitest,
// a bundle) compiles them too; knex's directory loader would need a TypeScript
// loader of its own. Append new migrations at the end, never edit old ones.
import type { Knex } from 'knex';
import * as m001 from '../../migrations/20261125_001_tenancy_catalog';
import * as m002 from '../../migrations/20261125_002_ledger';
import * as m003 from '../../migrations/20261125_003_runs';
import * as m004 from '../../migrations/20261125_004_connectors';
import * as m005 from '../../migrations/20261203_005_api_key_scopes';
import * as m006 from '../../migrations/20261203_006_users_email_lower_idx';
import * as m007 from '../../migrations/20261203_007_invitations';
import * as m008 from '../../migrations/20261203_008_publisher_console';

const migrations: Record<string, Knex.Migration> = {
  '20261125_001_tenancy_catalog': m001,
  '20261125_002_ledger': m002,
  '20261125_003_runs': m003,
  '20261125_004_connectors': m004,
  '20261203_005_api_key_scopes': m005,
  '20261203_006_users_email_lower_idx': m006,
  '20261203_007_invitations': m007,
  '20261203_008_publisher_console': m008,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
