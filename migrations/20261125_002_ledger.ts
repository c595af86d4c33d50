// The credit ledger: double-entry, two-phase, after TigerBeetle's model.
// Amounts are bigint millicredits (1 credit = 1000). Only core/ledger writes
// these tables; the balances on `accounts` are a cache of `transfers` that the
// ledger keeps exact (checkInvariants proves it).
import type { Knex } from 'knex';

const ACCOUNT_KINDS = ['wallet', 'demo_wallet', 'revenue', 'promo', 'purchases', 'refunds', 'demo_funding', 'adjustments'];
const TRANSFER_KINDS = ['posted', 'pending', 'post_pending', 'void_pending'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.comment('Ledger accounts: one wallet per org, demo wallets per visitor, and system counterparties (promo, purchases, revenue…).');
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('code').notNullable().unique({ indexName: 'accounts_code_key' })
      .comment('natural key: wallet:<org id>, demo_wallet:<visitor id>, or the system kind (promo, revenue…)');
    t.uuid('org_id').references('organizations.id').onDelete('RESTRICT');
    t.text('kind').notNullable().checkIn(ACCOUNT_KINDS, 'accounts_kind_check');
    t.boolean('debits_must_not_exceed_credits').notNullable().defaultTo(false)
      .comment('set on wallets: available (credits_posted - debits_posted - debits_pending) never below zero');
    t.bigInteger('debits_posted').notNullable().defaultTo(0);
    t.bigInteger('credits_posted').notNullable().defaultTo(0);
    t.bigInteger('debits_pending').notNullable().defaultTo(0);
    t.bigInteger('credits_pending').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  // The last line of defence behind the ledger's own check: a wallet can never
  // be overdrawn, counting its holds, whatever code writes to it.
  await knex.raw(`
    alter table accounts
      add constraint accounts_amounts_nonnegative_check
        check (debits_posted >= 0 and credits_posted >= 0 and debits_pending >= 0 and credits_pending >= 0),
      add constraint accounts_debits_must_not_exceed_credits_check
        check (not debits_must_not_exceed_credits or debits_posted + debits_pending <= credits_posted)`);
  await knex.raw(`create unique index accounts_wallet_org_key on accounts (kind, org_id) where kind = 'wallet'`);

  await knex.schema.createTable('transfers', (t) => {
    t.comment('Immutable ledger transfers. id is the idempotency key of the caller. A hold is a pending transfer; post_pending settles it (amount <= hold, the rest released) and void_pending releases it.');
    t.text('id').primary();
    t.bigIncrements('seq', { primaryKey: false }).comment('insertion order: the statement cursor');
    t.uuid('debit_account_id').notNullable().references('accounts.id');
    t.uuid('credit_account_id').notNullable().references('accounts.id');
    t.bigInteger('amount').notNullable().comment('millicredits; for post_pending the settled amount, for void_pending the released hold');
    t.text('kind').notNullable().checkIn(TRANSFER_KINDS, 'transfers_kind_check');
    t.text('pending_id').references('transfers.id').comment('the hold a post_pending or void_pending resolves');
    t.timestamp('timeout_at', { useTz: true }).comment('pending only: after this the hold is voided by housekeeping');
    t.text('reason').notNullable().comment('reason code: starter_grant, credit_pack, run, expired, adjustment…');
    t.text('run_id');
    t.text('order_id');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['debit_account_id', 'seq'], 'transfers_debit_account_seq_idx');
    t.index(['credit_account_id', 'seq'], 'transfers_credit_account_seq_idx');
    t.index(['run_id'], 'transfers_run_idx');
  });
  await knex.raw(`
    alter table transfers
      add constraint transfers_distinct_accounts_check check (debit_account_id <> credit_account_id),
      add constraint transfers_amount_check
        check (amount > 0 or (kind = 'post_pending' and amount = 0)),
      add constraint transfers_pending_shape_check
        check ((kind in ('post_pending', 'void_pending')) = (pending_id is not null)
           and (kind = 'pending') = (timeout_at is not null))`);
  // A hold resolves at most once, whichever process or path tries: the
  // database refuses a second post/void of the same pending transfer.
  await knex.raw('create unique index transfers_pending_resolution_key on transfers (pending_id) where pending_id is not null');

  await knex.schema.createTable('pending_holds', (t) => {
    t.comment('Holds not yet resolved, for the expiry sweep: transfers are immutable and keep every old hold, so scanning them by timeout would grow with history.');
    t.text('transfer_id').primary().references('transfers.id');
    t.timestamp('timeout_at', { useTz: true }).notNullable();
    t.index(['timeout_at'], 'pending_holds_timeout_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('pending_holds');
  await knex.schema.dropTable('transfers');
  await knex.schema.dropTable('accounts');
}
