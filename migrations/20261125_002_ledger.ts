// The credit ledger: double-entry, two-phase, after TigerBeetle's model.
// Amounts are bigint millicredits (1 credit = 1000). Only core/ledger writes
// these tables; the balances on `accounts` are a cache of `transfers` that the
// ledger keeps exact in the same transaction (checkLedgerInvariants proves it).
import type { Knex } from 'knex';

const ACCOUNT_KINDS = ['wallet', 'demo_wallet', 'revenue', 'promo', 'purchases', 'refunds', 'demo_funding', 'adjustments'];
const TRANSFER_KINDS = ['posted', 'pending', 'post_pending', 'void_pending'];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.comment('Ledger accounts: one wallet per org, demo wallets per visitor, and system counterparties (promo, purchases, revenue…). Never deleted.');
    t.uuid('id').primary({ constraintName: 'accounts_pkey' }).defaultTo(knex.raw('gen_random_uuid()'));
    t.text('code').notNullable().unique({ indexName: 'accounts_code_key' })
      .comment('natural key: wallet:<org id>, demo_wallet:<visitor id>, or the system kind (promo, revenue…)');
    t.uuid('org_id').comment('the wallet\'s organization');
    t.foreign('org_id', 'accounts_org_id_fkey').references('organizations.id').onDelete('RESTRICT');
    t.text('kind').notNullable().checkIn(ACCOUNT_KINDS, 'accounts_kind_check');
    t.boolean('debits_must_not_exceed_credits').notNullable().defaultTo(false)
      .comment('set on wallets: available (credits_posted - debits_posted - debits_pending) never below zero');
    t.bigInteger('debits_posted').notNullable().defaultTo(0);
    t.bigInteger('credits_posted').notNullable().defaultTo(0);
    t.bigInteger('debits_pending').notNullable().defaultTo(0).comment('open holds this account pays');
    t.bigInteger('credits_pending').notNullable().defaultTo(0).comment('open holds this account receives');
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
    t.text('id').primary({ constraintName: 'transfers_pkey' });
    t.bigIncrements('seq', { primaryKey: false }).comment('insertion order: the statement cursor');
    t.uuid('debit_account_id').notNullable();
    t.uuid('credit_account_id').notNullable();
    t.bigInteger('amount').notNullable().comment('millicredits; for post_pending the settled amount, for void_pending the released hold');
    t.text('kind').notNullable().checkIn(TRANSFER_KINDS, 'transfers_kind_check');
    t.text('pending_id').comment('the hold a post_pending or void_pending resolves');
    t.timestamp('timeout_at', { useTz: true }).comment('pending only: after this the hold can no longer be settled, and the expiry sweep voids it');
    t.text('reason').notNullable().comment('reason code: starter_grant, credit_pack, run, expired, adjustment…');
    t.text('run_id');
    t.text('order_id');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now())
      .comment('stamped by the ledger while it holds the ledger lock shared (see ledger_expiry)');
    t.foreign('debit_account_id', 'transfers_debit_account_id_fkey').references('accounts.id');
    t.foreign('credit_account_id', 'transfers_credit_account_id_fkey').references('accounts.id');
    t.foreign('pending_id', 'transfers_pending_id_fkey').references('transfers.id');
    // A wallet's statement reads its transfers newest first, from both sides.
    t.index(['debit_account_id', 'seq'], 'transfers_debit_account_seq_idx');
    t.index(['credit_account_id', 'seq'], 'transfers_credit_account_seq_idx');
  });
  await knex.raw(`
    alter table transfers
      add constraint transfers_distinct_accounts_check check (debit_account_id <> credit_account_id),
      add constraint transfers_amount_check check (amount > 0 or (kind = 'post_pending' and amount = 0)),
      add constraint transfers_pending_shape_check
        check ((kind in ('post_pending', 'void_pending')) = (pending_id is not null)
           and (kind = 'pending') = (timeout_at is not null)),
      -- The expiry sweep's mark relies on every hold timing out after the moment it was written.
      add constraint transfers_hold_timeout_check check (timeout_at >= created_at + interval '1 millisecond')`);
  // A hold resolves at most once, whichever process tries: the database
  // refuses a second post or void of the same pending transfer.
  await knex.raw('create unique index transfers_pending_resolution_key on transfers (pending_id) where pending_id is not null');
  // The expiry sweep reads holds by their timeout, from its mark on (ledger_expiry).
  await knex.raw(`create index transfers_hold_timeout_idx on transfers (timeout_at, id) where kind = 'pending'`);

  // Transfers are the ledger's history and accounts are referenced by it: nobody changes or removes them.
  await knex.raw(`
    create function ledger_refuse_change() returns trigger language plpgsql as $$
    begin
      raise exception 'ledger: % on % refused (transfers are immutable, accounts permanent)', tg_op, tg_table_name
        using errcode = 'CL004';
    end $$`);
  await knex.raw(`comment on function ledger_refuse_change() is 'Refuses any change to transfers and any removal of accounts (CL004).'`);
  await knex.raw(`create trigger transfers_immutable before update or delete or truncate on transfers
                   for each statement execute function ledger_refuse_change()`);
  await knex.raw(`create trigger accounts_permanent before delete or truncate on accounts
                   for each statement execute function ledger_refuse_change()`);

  // One row: how far the expiry sweep has gone, so a sweep reads only the holds that timed out since.
  // Holds in flight: every ledger transaction holds an advisory lock shared and stamps its transfers after
  // taking it; a sweep first takes it exclusively for an instant (a barrier), so a hold still to commit
  // always times out after the barrier's clock, and the mark never passes that clock (core/ledger).
  await knex.schema.createTable('ledger_expiry', (t) => {
    t.comment('How far the expiry sweep has gone: every hold whose timeout_at is at or before swept_to is resolved.');
    t.boolean('singleton').primary({ constraintName: 'ledger_expiry_pkey' }).defaultTo(true);
    t.timestamp('swept_to', { useTz: true }).notNullable();
  });
  await knex.raw('alter table ledger_expiry add constraint ledger_expiry_singleton_check check (singleton)');
  await knex('ledger_expiry').insert({ swept_to: knex.raw(`'-infinity'::timestamptz`) });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('ledger_expiry');
  await knex.schema.dropTable('transfers');
  await knex.schema.dropTable('accounts');
  await knex.raw('drop function ledger_refuse_change()');
}
