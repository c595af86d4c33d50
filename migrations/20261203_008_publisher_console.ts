// The publisher console: each version records the checks it went through
// before it may be published (validation, stored, registered on the runtime,
// each example input run), and each catalog sync to Saleor leaves its result,
// so the console can say whether prices reached the shop and when.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('offering_versions', (t) => {
    t.text('checks_status').comment('pending | running | passed | failed; null for versions added before checks existed');
    t.jsonb('checks').notNullable().defaultTo('[]').comment('[{name, status, detail, duration_ms}] in the order they ran');
    t.timestamp('checked_at', { useTz: true }).comment('when the last check finished');
    t.text('runtime_flow_id').comment('the flow id the checks registered in the runtime (the studio opens it)');
    t.integer('size_bytes').comment('size of the uploaded flow export');
  });
  await knex.raw(`alter table offering_versions add constraint offering_versions_checks_status_check
    check (checks_status in ('pending', 'running', 'passed', 'failed'))`);

  await knex.schema.createTable('catalog_syncs', (t) => {
    t.comment('The last sync of an offering (its paid plans) or of the credit packs to Saleor, per scope.');
    t.text('scope').primary().comment('offering:<uuid> or credit-packs');
    t.text('status').notNullable().checkIn(['running', 'succeeded', 'failed'], 'catalog_syncs_status_check');
    t.text('workflow_id').notNullable();
    t.integer('variants').comment('variants Saleor holds after the sync');
    t.text('error');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
  });
  // Per-offering usage by day reads runs and instances by offering and time.
  await knex.raw('create index runs_offering_created_idx on runs (offering_id, created_at)');
  await knex.raw('create index instances_offering_created_idx on instances (offering_id, created_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists instances_offering_created_idx');
  await knex.raw('drop index if exists runs_offering_created_idx');
  await knex.schema.dropTableIfExists('catalog_syncs');
  await knex.raw('alter table offering_versions drop constraint if exists offering_versions_checks_status_check');
  await knex.schema.alterTable('offering_versions', (t) => {
    t.dropColumns('checks_status', 'checks', 'checked_at', 'runtime_flow_id', 'size_bytes');
  });
}
