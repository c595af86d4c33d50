// Provisioning finds an order's buyer by email, whatever its case
// (findByEmail: lower(email) = lower(?)): an expression index keeps that from
// scanning users. Not unique: emails come from each identity's token, and two
// users sharing one is a case findByEmail refuses rather than an insert error.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('create index users_email_lower_idx on users (lower(email))');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists users_email_lower_idx');
}
