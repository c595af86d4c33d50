// API key scopes become a closed set: `runs` (call agents) and `usage:read`
// (read the organization's balance and usage). Every existing key already
// holds `{runs}` (the column's default), so existing keys keep running agents;
// the check only stops unknown or empty scope lists from being stored.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`update api_keys set scopes = '{runs}' where cardinality(scopes) = 0`);
  await knex.raw(`alter table api_keys add constraint api_keys_scopes_check
    check (cardinality(scopes) > 0 and scopes <@ array['runs', 'usage:read']::text[])`);
  await knex.raw(`comment on column api_keys.scopes is 'What the key may do: runs (call agents), usage:read (read balance and usage)'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table api_keys drop constraint if exists api_keys_scopes_check');
  await knex.raw('comment on column api_keys.scopes is null');
}
