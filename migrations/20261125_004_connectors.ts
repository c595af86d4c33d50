// Connector gateway: an organization's bindings of outside tools (HTTP APIs,
// MCP servers) to its instances, and one row per connector call (the call's
// audit record; its id is the workflow's call id, so a retried write is a no-op).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('connector_bindings', (t) => {
    t.comment('An outside tool bound to an instance. The secret lives in Vault at secret_path, never here.');
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('org_id').notNullable().references('organizations.id');
    t.uuid('instance_id').notNullable().references('instances.id');
    t.text('name').notNullable();
    t.text('type').notNullable().checkIn(['http', 'mcp'], 'connector_bindings_type_check');
    t.text('base_url').notNullable();
    t.jsonb('operations').notNullable().defaultTo('[]').comment('HTTP: [{name, method, path, idempotent}]');
    t.jsonb('mcp_tools').comment('MCP: allowed tool names; null = all tools of the server');
    t.text('secret_kind').notNullable().checkIn(['api_key', 'bearer', 'basic'], 'connector_bindings_secret_kind_check');
    t.text('secret_header').comment('api_key: the header that carries the key');
    t.text('secret_path').notNullable();
    t.integer('secret_version').notNullable();
    t.timestamp('secret_rotated_at', { useTz: true }).notNullable();
    t.integer('price_per_call_mc').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('deleted_at', { useTz: true });
    t.index(['org_id', 'instance_id'], 'connector_bindings_org_instance_idx');
  });
  await knex.raw('create unique index connector_bindings_instance_name_uniq on connector_bindings (instance_id, name) where deleted_at is null');

  await knex.schema.createTable('connector_calls', (t) => {
    t.comment('One tool call through the gateway: who, which run, which tool, outcome, sizes. Never secrets or bodies.');
    t.text('id').primary().comment('The call id: the workflow is conn-<id>');
    t.uuid('binding_id').notNullable().references('connector_bindings.id');
    t.uuid('org_id').notNullable();
    t.uuid('instance_id').notNullable();
    t.text('run_id');
    t.text('operation').notNullable();
    t.text('status').notNullable().checkIn(['succeeded', 'failed', 'refused', 'rejected'], 'connector_calls_status_check');
    t.integer('upstream_status');
    t.text('error_type');
    t.integer('duration_ms').notNullable();
    t.integer('request_bytes').notNullable().defaultTo(0);
    t.integer('response_bytes').notNullable().defaultTo(0);
    t.integer('charged_mc').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['org_id', 'created_at'], 'connector_calls_org_created_idx');
    t.index(['binding_id', 'created_at'], 'connector_calls_binding_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('connector_calls');
  await knex.schema.dropTableIfExists('connector_bindings');
}
