// Identity, tenancy, catalog, instances, API keys, orders and the operational
// tables. Append-only: later changes go into new migrations.
import type { Knex } from 'knex';

const timestamps = (t: Knex.CreateTableBuilder, knex: Knex) => {
  t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
};

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.comment('People who signed in through OIDC; created on first contact.');
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('oidc_subject').notNullable().unique('users_oidc_subject_key');
    t.text('email');
    t.text('name');
    timestamps(t, knex);
  });

  await knex.schema.createTable('organizations', (t) => {
    t.comment('Tenants. Every tenant-owned row carries org_id.');
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('name').notNullable();
    // The workspace created by POST /v1/orgs/auto: one per user, enforced here.
    t.uuid('auto_for_user_id').references('users.id').unique('organizations_auto_for_user_key');
    timestamps(t, knex);
  });

  await knex.schema.createTable('projects', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('org_id').notNullable().references('organizations.id').onDelete('CASCADE');
    t.text('name').notNullable();
    t.unique(['org_id', 'name'], { indexName: 'projects_org_name_key' });
    timestamps(t, knex);
  });

  await knex.schema.createTable('memberships', (t) => {
    t.uuid('org_id').notNullable().references('organizations.id').onDelete('CASCADE');
    t.uuid('user_id').notNullable().references('users.id').onDelete('CASCADE');
    t.text('role').notNullable().checkIn(['owner', 'admin', 'member'], 'memberships_role_check');
    t.primary(['org_id', 'user_id'], { constraintName: 'memberships_pkey' });
    t.index(['user_id'], 'memberships_user_idx');
    timestamps(t, knex);
  });

  await knex.schema.createTable('offerings', (t) => {
    t.comment('Agents in the store.');
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('slug').notNullable().unique('offerings_slug_key');
    t.text('name').notNullable();
    t.text('summary').notNullable().defaultTo('');
    t.text('description').notNullable().defaultTo('');
    t.text('category').notNullable().defaultTo('general');
    t.text('publisher').notNullable().defaultTo('CMP');
    t.text('status').notNullable().defaultTo('draft').checkIn(['draft', 'published', 'retired'], 'offerings_status_check');
    t.boolean('demo_enabled').notNullable().defaultTo(true);
    t.jsonb('example_inputs').notNullable().defaultTo('[]');
    t.boolean('featured').notNullable().defaultTo(false);
    timestamps(t, knex);
  });

  await knex.schema.createTable('offering_versions', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('offering_id').notNullable().references('offerings.id').onDelete('CASCADE');
    t.text('version').notNullable().comment('semver');
    t.text('changelog').notNullable().defaultTo('');
    t.text('artifact_key').notNullable().comment('S3 key of the Langflow flow JSON');
    t.text('sha256').notNullable().comment('hex sha256 of the artifact bytes');
    t.text('runtime_flow_name').comment('name the flow is registered under in Langflow');
    t.text('status').notNullable().defaultTo('draft').checkIn(['draft', 'published', 'retired'], 'offering_versions_status_check');
    t.timestamp('published_at', { useTz: true });
    t.unique(['offering_id', 'version'], { indexName: 'offering_versions_offering_version_key' });
    timestamps(t, knex);
  });

  await knex.schema.createTable('plans', (t) => {
    t.comment('Subscription plans of an offering; amounts in millicredits (1 credit = 1000).');
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('offering_id').notNullable().references('offerings.id').onDelete('CASCADE');
    t.text('code').notNullable().comment('free | plus | pro | …');
    t.text('name').notNullable();
    t.integer('price_cents').notNullable().defaultTo(0);
    t.text('currency').notNullable().defaultTo('USD');
    t.bigInteger('monthly_credits_mc').notNullable().defaultTo(0);
    t.bigInteger('price_per_run_mc').notNullable().defaultTo(1000);
    t.bigInteger('price_per_1k_tokens_mc').notNullable().defaultTo(0);
    t.integer('rate_limit_per_minute').notNullable().defaultTo(60);
    t.integer('org_rate_limit_per_minute').notNullable().defaultTo(600);
    t.text('saleor_variant_id');
    t.text('status').notNullable().defaultTo('published').checkIn(['draft', 'published', 'retired'], 'plans_status_check');
    t.unique(['offering_id', 'code'], { indexName: 'plans_offering_code_key' });
    timestamps(t, knex);
  });

  await knex.schema.createTable('credit_packs', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('code').notNullable().unique('credit_packs_code_key');
    t.text('name').notNullable();
    t.bigInteger('credits_mc').notNullable();
    t.integer('price_cents').notNullable();
    t.text('currency').notNullable().defaultTo('USD');
    t.text('saleor_variant_id');
    t.text('status').notNullable().defaultTo('published').checkIn(['draft', 'published', 'retired'], 'credit_packs_status_check');
    timestamps(t, knex);
  });

  await knex.schema.createTable('instances', (t) => {
    t.comment('A subscribed agent of an organization.');
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('org_id').notNullable().references('organizations.id');
    t.uuid('offering_id').notNullable().references('offerings.id');
    t.uuid('offering_version_id').notNullable().references('offering_versions.id');
    t.uuid('plan_id').notNullable().references('plans.id');
    t.text('status').notNullable().defaultTo('pending')
      .checkIn(['pending', 'provisioning', 'active', 'needs_attention', 'failed', 'deprovisioning', 'deprovisioned'], 'instances_status_check');
    t.text('order_id').comment('Saleor order id, or free-<uuid> for free subscriptions');
    t.text('workflow_id');
    t.text('gitops_commit_sha');
    t.text('runtime_flow_id');
    t.jsonb('last_error');
    t.timestamp('activated_at', { useTz: true });
    t.timestamp('deprovisioned_at', { useTz: true });
    t.index(['org_id', 'status'], 'instances_org_status_idx');
    timestamps(t, knex);
  });
  // One instance per order line: a replayed provisioning step finds the same row.
  await knex.schema.alterTable('instances', (t) => {
    t.integer('order_line').notNullable().defaultTo(0);
    t.unique(['order_id', 'order_line'], { indexName: 'instances_order_line_key' });
  });

  await knex.schema.createTable('api_keys', (t) => {
    t.comment('API keys: only a prefix and the SHA-256 of the secret are stored.');
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('org_id').notNullable().references('organizations.id');
    t.text('name').notNullable();
    t.text('prefix').notNullable().unique('api_keys_prefix_key');
    t.binary('key_hash').notNullable();
    t.specificType('scopes', 'text[]').notNullable().defaultTo('{runs}');
    t.uuid('instance_id').references('instances.id');
    t.uuid('created_by').references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.index(['org_id'], 'api_keys_org_idx');
  });

  await knex.schema.createTable('orders', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('saleor_order_id').notNullable().unique('orders_saleor_order_id_key');
    t.uuid('org_id').references('organizations.id');
    t.text('buyer_email');
    t.text('kind').notNullable().defaultTo('paid').checkIn(['paid', 'free'], 'orders_kind_check');
    t.text('status').notNullable().defaultTo('received')
      .checkIn(['received', 'provisioning', 'needs_attention', 'fulfilled', 'cancelling', 'cancelled', 'failed'], 'orders_status_check');
    t.text('workflow_id').notNullable();
    t.text('current_step');
    t.jsonb('last_error');
    t.integer('total_cents');
    t.text('currency');
    t.timestamp('paid_at', { useTz: true });
    t.timestamp('provisioned_at', { useTz: true });
    t.index(['status'], 'orders_status_idx');
    t.index(['org_id'], 'orders_org_idx');
    timestamps(t, knex);
  });

  await knex.schema.createTable('webhook_events', (t) => {
    t.comment('Idempotency store of received webhooks.');
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('source').notNullable();
    t.text('event_type').notNullable();
    t.text('dedupe_key').notNullable();
    t.text('subject_id');
    t.jsonb('payload').notNullable();
    t.integer('deliveries').notNullable().defaultTo(1);
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['source', 'dedupe_key'], { indexName: 'webhook_events_dedupe_key' });
  });

  await knex.schema.createTable('demo_visitors', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('ip_hash').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['ip_hash', 'created_at'], 'demo_visitors_ip_idx');
  });

  await knex.schema.createTable('runs', (t) => {
    t.comment('One agent run: its hold, cost and outcome.');
    t.uuid('id').primary();
    t.uuid('org_id').references('organizations.id');
    t.uuid('demo_visitor_id').references('demo_visitors.id');
    t.uuid('instance_id').references('instances.id');
    t.uuid('offering_id').notNullable().references('offerings.id');
    t.uuid('api_key_id').references('api_keys.id');
    t.text('status').notNullable().defaultTo('running')
      .checkIn(['running', 'succeeded', 'failed', 'timed_out', 'rejected'], 'runs_status_check');
    t.text('hold_transfer_id');
    t.bigInteger('hold_mc');
    t.bigInteger('cost_mc');
    t.integer('tokens_in');
    t.integer('tokens_out');
    t.integer('latency_ms');
    t.text('output');
    t.jsonb('error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
    t.index(['org_id', 'created_at'], 'runs_org_created_idx');
    t.index(['offering_id'], 'runs_offering_idx');
  });

  await knex.schema.createTable('audit_log', (t) => {
    t.comment('Who did what, and why: support actions, admin changes, key events.');
    t.bigIncrements('id');
    t.uuid('org_id');
    t.text('actor').notNullable();
    t.text('action').notNullable();
    t.text('target_type');
    t.text('target_id');
    t.text('reason');
    t.jsonb('data').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['org_id', 'created_at'], 'audit_log_org_idx');
    t.index(['target_type', 'target_id'], 'audit_log_target_idx');
  });

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.comment('Idempotency-Key replay store for mutating API calls.');
    t.text('principal').notNullable().comment('who sent it: user id or api key id');
    t.text('key').notNullable();
    t.text('method_path').notNullable();
    t.text('request_hash').notNullable();
    t.text('state').notNullable().checkIn(['in_progress', 'completed'], 'idempotency_keys_state_check');
    t.integer('response_status');
    t.jsonb('response_body');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['principal', 'key'], { constraintName: 'idempotency_keys_pkey' });
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'idempotency_keys', 'audit_log', 'runs', 'demo_visitors', 'webhook_events', 'orders', 'api_keys',
    'instances', 'credit_packs', 'plans', 'offering_versions', 'offerings', 'memberships', 'projects',
    'organizations', 'users',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
