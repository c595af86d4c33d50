// The run path: fixed-window rate-limit counters shared by every API replica,
// and lookups for demo visitors by IP.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Unlogged: counters of the last minutes need no WAL or fsync; a crash loses at most a window's counts.
  await knex.raw('create unlogged table rate_limit_windows (key text not null, window_start timestamptz not null, count integer not null default 0)');
  await knex.schema.alterTable('rate_limit_windows', (t) => {
    t.comment('Requests counted per key (api key, org, demo IP) and fixed one-minute window.');
    t.primary(['key', 'window_start'], { constraintName: 'rate_limit_windows_pkey' });
    t.index(['window_start'], 'rate_limit_windows_start_idx');
  });
  await knex.schema.alterTable('runs', (t) => {
    t.index(['demo_visitor_id'], 'runs_demo_visitor_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('runs', (t) => {
    t.dropIndex(['demo_visitor_id'], 'runs_demo_visitor_idx');
  });
  await knex.schema.dropTableIfExists('rate_limit_windows');
}
