// Ledger batches that usually need one round trip and hold no lock across one.
//
// Before, every batch locked its accounts (the shared revenue account among
// them) while it loaded, applied in Node and wrote, so batches from every
// process queued behind each other for four round trips and a commit. Now a
// batch whose accounts and holds the ledger process already knows is applied
// in Node from what it knows and written in one autocommitted call
// (ledger_write). The call itself proves what Node assumed: each wallet must
// still have the available balance the batch needs at its lowest point, no
// settled hold may have timed out, and the unique keys refuse a transfer id
// that exists or a hold resolved elsewhere. If any proof fails nothing is
// written, and the batcher runs the batch the exact way: ledger_load_locked
// locks every account in id order, then reads, and the same ledger_write
// completes it in that transaction.
//
// ledger_write inserts first and takes the account row locks last, so a
// batch holds the shared revenue row only for its balance update and commit.
// FOR NO KEY UPDATE, not FOR UPDATE: other batches' foreign-key checks on the
// same accounts (FOR KEY SHARE) do not wait on it.
import type { Knex } from 'knex';
import * as ledgerPlans from './20261125_005_ledger_plans';

export const WRITE_ARGS = 'text[], uuid[], uuid[], bigint[], text[], text[], bigint[], text[], text[], text[], jsonb[], text[], bigint[], text[], uuid[], bigint[], bigint[], bigint[], bigint[], bigint[], timestamptz[]';

/** The first ledger_load_locked; 20261201_007_ledger_guards_and_expiry replaces it (and restores it on the way down). */
export const LOAD_LOCKED_V1 = `
    create function ledger_load_locked(
      p_account_ids uuid[], p_ids text[], p_pending_ids text[], p_expiry_now timestamptz, p_expiry_limit int
    ) returns json language plpgsql volatile set plan_cache_mode = force_custom_plan as $$
    declare
      v_candidates text[] := '{}';
      v_pending text[];
      v_account_ids uuid[];
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
      v_account_ids := array(select unnest(p_account_ids)
                             union select debit_account_id from transfers where id = any(v_pending)
                             union select credit_account_id from transfers where id = any(v_pending));
      -- Every writer locks accounts in id order: no deadlocks between batches.
      select coalesce(json_agg(a), '[]') into v_accounts from (
        select id, debits_must_not_exceed_credits as limited, debits_posted, credits_posted, debits_pending, credits_pending
        from accounts where id = any(v_account_ids) order by id for no key update) a;
      -- Read after the locks (a new snapshot per statement): every commit that touched these accounts is seen.
      select coalesce(json_agg(t), '[]') into v_transfers from (
        select * from transfers where id = any(p_ids || v_pending)
        union all
        select * from transfers where pending_id = any(v_pending) and not (id = any(p_ids || v_pending))) t;
      return json_build_object('now', now(), 'accounts', v_accounts, 'transfers', v_transfers, 'candidates', to_json(v_candidates));
    end $$`;

/** The first ledger_write; 20261201_007_ledger_guards_and_expiry replaces it (and restores it on the way down). */
export const LEDGER_WRITE_V1 = `
    create function ledger_write(
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
    begin
      if v_now >= any(p_settled_timeouts) then
        raise exception 'ledger: a hold timed out before it was settled' using errcode = 'CL002';
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
      select coalesce(json_agg(moved), '[]') into v_accounts from moved;
      if json_array_length(v_accounts) <> cardinality(a_id) then
        raise exception 'ledger: a wallet no longer has what the batch needs' using errcode = 'CL001';
      end if;
      return json_build_object('now', v_now, 'accounts', v_accounts);
    end $$`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw('drop function ledger_lock_and_load(uuid[], text[], text[], timestamptz, int)');
  // pending_holds is the expiry sweep's list of open holds, kept beside transfers by the batcher and proven
  // exact by checkLedgerInvariants; its foreign key locked the hold's row (a WAL record) on every hold.
  await knex.raw('alter table pending_holds drop constraint pending_holds_transfer_id_foreign');
  // Nothing reads transfers by run (a run's transfers have ids made from the run id): one index less to write per transfer.
  await knex.raw('drop index transfers_run_idx');
  await knex.raw(LOAD_LOCKED_V1);
  await knex.raw(`comment on function ledger_load_locked(uuid[], text[], text[], timestamptz, int) is
    'Ledger batcher, exact way: locks the accounts of a batch in id order, then loads the transfers it may meet.'`);

  await knex.raw(LEDGER_WRITE_V1);
  await knex.raw(`comment on function ledger_write(${WRITE_ARGS}) is
    'Ledger batcher: writes a batch (transfers, open holds, balance deltas) and returns the new balances; raises CL001 (a wallet no longer has what the batch needs) or CL002 (a settled hold timed out) and writes nothing.'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop function ledger_write(${WRITE_ARGS})`);
  await knex.raw('drop function ledger_load_locked(uuid[], text[], text[], timestamptz, int)');
  await knex.raw('create index transfers_run_idx on transfers (run_id)');
  await knex.raw('alter table pending_holds add constraint pending_holds_transfer_id_foreign foreign key (transfer_id) references transfers (id)');
  await ledgerPlans.up(knex);
}
