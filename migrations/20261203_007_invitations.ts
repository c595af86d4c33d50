// Invitations into a workspace (docs/teams.md). The link carries a random
// token; only its SHA-256 is stored, so the table cannot be turned into
// working links. Accepting is one conditional UPDATE (not accepted, not
// revoked, not expired), which makes a link single-use under any concurrency.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('invitations', (t) => {
    t.comment('Invitations by email into a workspace with a workspace role; single-use, expiring, revocable.');
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.uuid('org_id').notNullable().references('organizations.id').onDelete('CASCADE');
    t.text('email').notNullable().comment('Who may accept it (compared case-insensitively with the signed-in user)');
    t.text('role').notNullable().checkIn(['owner', 'admin', 'member'], 'invitations_role_check').comment('Workspace role given on acceptance');
    t.binary('token_hash').notNullable().unique({ indexName: 'invitations_token_hash_key' }).comment('SHA-256 of the link token');
    t.uuid('invited_by').notNullable().references('users.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable().defaultTo(knex.raw("now() + interval '7 days'"));
    t.timestamp('accepted_at', { useTz: true });
    t.uuid('accepted_by').references('users.id');
    t.timestamp('revoked_at', { useTz: true });
    t.index(['org_id', 'created_at'], 'invitations_org_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('invitations');
}
