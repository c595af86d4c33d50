// The credit ledger: double-entry, two-phase, after TigerBeetle's model.
// Amounts are bigint millicredits (1 credit = 1000). Only core/ledger writes
// these tables; the balances on `accounts` are a cache of `transfers` that the
// ledger keeps exact (checkInvariants proves it).
import type { Knex } from 'knex';

const ACCOUNT_KINDS = ['wallet', 'demo_wallet', 'revenue', 'promo', 'purchases', 'refunds', 'demo_funding', 'adjustments'];
const TRANSFER_KINDS = ['posted', 'pending', 'post_pending', 'void_pending'];

/** The first ledger_lock_and_load; 20261125_005_ledger_plans replaces it (and restores it on the way down). */
export const LOCK_AND_LOAD_V1 = `
    create function ledger_lock_and_load(
      p_account_ids uuid[], p_ids text[], p_pending_ids text[], p_expiry_now timestamptz, p_expiry_limit int
    ) returns json language plpgsql volatile as $$
    declare
      v_candidates text[] := '{}';
      v_pending text[];
      v_accounts json;
      v_transfers json;
    begin
      if p_expiry_now is not null then
        select coalesce(array_agg(c.transfer_id order by c.timeout_at, c.transfer_id), '{}') into v_candidates
        from (select transfer_id, timeout_at from pending_holds where timeout_at <= p_expiry_now
              order by timeout_at, transfer_id limit p_expiry_limit) c;
      end if;
      v_pending := p_pending_ids || v_candidates;
      -- Holds are immutable, so their accounts can be read before locking.
      -- Locks are taken in id order by every process: no deadlocks.
      select coalesce(json_agg(a), '[]') into v_accounts from (
        select id, debits_must_not_exceed_credits as limited, debits_posted, credits_posted, debits_pending, credits_pending
        from accounts
        where id in (select unnest(p_account_ids)
                     union select debit_account_id from transfers where id = any(v_pending)
                     union select credit_account_id from transfers where id = any(v_pending))
        order by id for update) a;
      select coalesce(json_agg(t), '[]') into v_transfers from (
        select * from transfers where id = any(p_ids || v_pending)
        union all
        select * from transfers where pending_id = any(v_pending) and not (id = any(p_ids || v_pending))) t;
      return json_build_object('now', now(), 'accounts', v_accounts, 'transfers', v_transfers, 'candidates', to_json(v_candidates));
    end $$`;

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

  // The ledger's batcher opens each transaction with this one call, so a batch
  // costs four round trips (begin, lock-and-load, write, commit) whatever its
  // size. It runs in READ COMMITTED, where each statement takes a new
  // snapshot: the transfers are read after the locks are granted, so they
  // include every commit that touched these accounts before us.
  await knex.raw(LOCK_AND_LOAD_V1);
  await knex.raw(`comment on function ledger_lock_and_load(uuid[], text[], text[], timestamptz, int) is
    'Ledger batcher: locks the accounts of a batch FOR UPDATE in id order, then loads the transfers it may meet.'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function ledger_lock_and_load(uuid[], text[], text[], timestamptz, int)');
  await knex.schema.dropTable('pending_holds');
  await knex.schema.dropTable('transfers');
  await knex.schema.dropTable('accounts');
}
