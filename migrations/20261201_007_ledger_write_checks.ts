// The database's guards on the ledger, checked once a batch instead of once a row.
//
// The foreign keys of transfers (debit and credit account, the hold a
// settlement resolves) were checked by a trigger per row: a query of its own
// each, which also locked the referenced row (the hold's row lock a WAL
// record, the accounts' a multixact beside the batch's own lock). That was a
// quarter of PostgreSQL's time per operation. ledger_write now proves the
// same for the whole batch, and more, before it writes anything:
// - every account a transfer names is one the batch moves, and the balance
//   update (which locks and counts them) proves each exists;
// - every hold a transfer resolves is a hold between the same two accounts,
//   written before or in this batch;
// - every hold it closes was open (its pending_holds row is deleted).
// And what the keys also gave, that a referenced row is never removed, is now
// a rule of its own: transfers are never updated, deleted or truncated, and
// accounts never deleted or truncated (CL004), whoever tries.
import type { Knex } from 'knex';
import { LEDGER_WRITE_V1, WRITE_ARGS } from './20261201_006_ledger_optimistic_batches';

const FOREIGN_KEYS = [
  ['transfers_debit_account_id_foreign', 'debit_account_id', 'accounts'],
  ['transfers_credit_account_id_foreign', 'credit_account_id', 'accounts'],
  ['transfers_pending_id_foreign', 'pending_id', 'transfers'],
] as const;

/** ledger_write with the batch-wide checks; 20261201_008_ledger_expiry_watermark replaces it (and restores it on the way down). */
export const LEDGER_WRITE_V2 = `
    create or replace function ledger_write(
      t_id text[], t_debit uuid[], t_credit uuid[], t_amount bigint[], t_kind text[], t_pending text[], t_timeout_ms bigint[],
      t_reason text[], t_run text[], t_order text[], t_metadata jsonb[],
      h_opened text[], h_timeout_ms bigint[], h_closed text[],
      a_id uuid[], a_debits_posted bigint[], a_credits_posted bigint[], a_debits_pending bigint[], a_credits_pending bigint[],
      a_need bigint[], p_settled_timeouts timestamptz[]
    ) returns json language plpgsql volatile
      -- Planned once per connection, and never by reading a whole table: its statements touch a few rows by key.
      set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
    declare
      -- Transfers keep milliseconds, as the batcher does.
      v_now timestamptz := date_trunc('milliseconds', now());
      v_accounts json;
      v_closed bigint;
    begin
      if v_now >= any(p_settled_timeouts) then
        raise exception 'ledger: a hold timed out before it was settled' using errcode = 'CL002';
      end if;
      if not ((t_debit || t_credit) <@ a_id) then
        raise exception 'ledger: a transfer names an account the batch does not move' using errcode = 'CL003';
      end if;
      if exists (
        select 1 from unnest(t_pending, t_debit, t_credit) as r(pending, debit, credit)
        where r.pending is not null
          and not exists (select 1 from unnest(t_id, t_kind, t_debit, t_credit) as b(id, kind, debit, credit)
                          where b.id = r.pending and b.kind = 'pending' and b.debit = r.debit and b.credit = r.credit)
          and not exists (select 1 from transfers h
                          where h.id = r.pending and h.kind = 'pending' and h.debit_account_id = r.debit and h.credit_account_id = r.credit)
      ) then
        raise exception 'ledger: a transfer resolves no hold between its accounts' using errcode = 'CL003';
      end if;
      -- One statement, so one executor run a batch. The inserts go first (the update waits on them), so the
      -- shared accounts stay locked only for their update and the commit; the batcher sends a_id sorted, and
      -- the update locks in that order, as every writer does: no deadlocks between batches.
      -- a_need: the available balance a wallet must have for every op of the batch to pass in order.
      with inserted as (
        insert into transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, timeout_at, reason, run_id, order_id, metadata, created_at)
        select id, debit, credit, amount, kind, pending, v_now + timeout_ms * interval '1 millisecond', reason, run, ord, metadata, v_now
        from unnest(t_id, t_debit, t_credit, t_amount, t_kind, t_pending, t_timeout_ms, t_reason, t_run, t_order, t_metadata)
          as t(id, debit, credit, amount, kind, pending, timeout_ms, reason, run, ord, metadata)
        returning 1
      ), opened as (
        insert into pending_holds (transfer_id, timeout_at)
        select id, v_now + timeout_ms * interval '1 millisecond' from unnest(h_opened, h_timeout_ms) as h(id, timeout_ms)
        returning 1
      ), closed as (
        delete from pending_holds where transfer_id = any(h_closed) returning 1
      ), moved as (
        update accounts a set debits_posted = a.debits_posted + v.dp, credits_posted = a.credits_posted + v.cp,
                              debits_pending = a.debits_pending + v.dpe, credits_pending = a.credits_pending + v.cpe
        from unnest(a_id, a_debits_posted, a_credits_posted, a_debits_pending, a_credits_pending, a_need) as v(id, dp, cp, dpe, cpe, need)
        where a.id = v.id and (v.need is null or a.credits_posted - a.debits_posted - a.debits_pending >= v.need)
          and (select count(*) from inserted) + (select count(*) from opened) + (select count(*) from closed) >= 0
        returning a.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending
      )
      select coalesce(json_agg(moved), '[]'), (select count(*) from closed) into v_accounts, v_closed from moved;
      if json_array_length(v_accounts) <> cardinality(a_id) then
        raise exception 'ledger: a wallet no longer has what the batch needs' using errcode = 'CL001';
      end if;
      -- Holds resolve once (transfers_pending_resolution_key); this proves the open-holds list agreed.
      if v_closed <> cardinality(h_closed) then
        raise exception 'ledger: a hold closed here was not open' using errcode = 'CL003';
      end if;
      return json_build_object('now', v_now, 'accounts', v_accounts);
    end $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function ledger_refuse_change() returns trigger language plpgsql as $$
    begin
      raise exception 'ledger: % on % refused (transfers are immutable, accounts permanent)', tg_op, tg_table_name
        using errcode = 'CL004';
    end $$`);
  await knex.raw(`create trigger transfers_immutable before update or delete or truncate on transfers
                   for each statement execute function ledger_refuse_change()`);
  await knex.raw(`create trigger accounts_permanent before delete or truncate on accounts
                   for each statement execute function ledger_refuse_change()`);
  for (const [name] of FOREIGN_KEYS) await knex.raw(`alter table transfers drop constraint ${name}`);

  await knex.raw(LEDGER_WRITE_V2);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop function ledger_write(${WRITE_ARGS})`);
  await knex.raw(LEDGER_WRITE_V1);
  for (const [name, column, table] of FOREIGN_KEYS) {
    await knex.raw(`alter table transfers add constraint ${name} foreign key (${column}) references ${table} (id)`);
  }
  await knex.raw('drop trigger accounts_permanent on accounts');
  await knex.raw('drop trigger transfers_immutable on transfers');
  await knex.raw('drop function ledger_refuse_change()');
}
