// ledger_write looks for a settlement's hold among the written transfers first.
//
// A batch's settlements nearly always resolve holds written by earlier
// batches (a run's hold and its settlement are seconds apart), yet each one
// first searched the batch's own ids with array_position, a text comparison
// per transfer of the batch, and only then looked the hold up by its key.
// The search in the batch now runs only for a hold not yet written. Counted
// with callgrind (PostgreSQL in single-user mode, the same hold+settle rounds
// of 16 each time, so the counts repeat within 0.02 %): 3.61 M instructions a round
// of 16 before, 3.50 M after (-3.2 %). The rules and error codes are the
// same.
import type { Knex } from 'knex';
import { LEDGER_WRITE_V3 } from './20261201_008_ledger_write_lean';

/** The key of the ledger's advisory lock, as 20261201_007 made it. */
const LEDGER_LOCK = 7_254_410_001;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function ledger_write(
      t_id text[], t_debit uuid[], t_credit uuid[], t_amount bigint[], t_kind text[], t_pending text[], t_timeout_ms bigint[],
      t_reason text[], t_run text[], t_order text[], t_metadata jsonb[],
      a_id uuid[], a_debits_posted bigint[], a_credits_posted bigint[], a_debits_pending bigint[], a_credits_pending bigint[],
      a_need bigint[], p_settled_timeouts timestamptz[], p_swept_to timestamptz
    ) returns json language plpgsql volatile
      -- Planned once per connection, and never by reading a whole table: its statements touch a few rows by key.
      set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
    declare
      v_now timestamptz;
      v_accounts text;
      v_moved int;
    begin
      -- Shared with every other write until commit, and taken before the update's row locks; an expiry sweep's
      -- barrier waits for it (20261201_007).
      perform pg_advisory_xact_lock_shared(${LEDGER_LOCK});
      -- The clock as the lock is held, not the transaction's start: the barrier's argument needs it. Milliseconds,
      -- as the batcher keeps them.
      v_now := date_trunc('milliseconds', clock_timestamp());
      if v_now >= any(p_settled_timeouts) then
        raise exception 'ledger: a hold timed out before it was settled' using errcode = 'CL002';
      end if;
      if not ((t_debit || t_credit) <@ a_id) then
        raise exception 'ledger: a transfer names an account the batch does not move' using errcode = 'CL003';
      end if;
      if 1 > any(t_timeout_ms) then
        raise exception 'ledger: a hold times out at least 1 ms after it is written' using errcode = 'CL003';
      end if;
      -- A resolved hold is already written or in this batch (ids are unique in it), looked for in that order: a
      -- hold is almost always settled in a later batch than its own, and coalesce stops at the first answer,
      -- where the planner may order two conditions as it likes. The written one is looked up by id alone: a
      -- condition on kind would let the plan, made once while transfers may still be empty, walk
      -- transfers_hold_timeout_idx (every hold ever) instead of the primary key.
      if exists (
        select 1
        from (select unnest(t_pending) as pending, unnest(t_debit) as debit, unnest(t_credit) as credit) r
        where r.pending is not null
          and not coalesce((select h.kind = 'pending' and h.debit_account_id = r.debit and h.credit_account_id = r.credit
                            from transfers h where h.id = r.pending),
                           (select t_kind[b.i] = 'pending' and t_debit[b.i] = r.debit and t_credit[b.i] = r.credit
                            from (select array_position(t_id, r.pending) as i) b),
                           false)
      ) then
        raise exception 'ledger: a transfer resolves no hold between its accounts' using errcode = 'CL003';
      end if;
      -- One statement, so one executor run a batch. The inserts go first (the update waits on them), so the
      -- shared accounts stay locked only for their update and the commit; the batcher sends a_id sorted, and
      -- the update locks in that order, as every writer does: no deadlocks between batches.
      -- a_need: the available balance a wallet must have for every op of the batch to pass in order.
      with inserted as (
        insert into transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, timeout_at, reason, run_id, order_id, metadata, created_at)
        select unnest(t_id), unnest(t_debit), unnest(t_credit), unnest(t_amount), unnest(t_kind), unnest(t_pending),
               v_now + unnest(t_timeout_ms) * interval '1 millisecond', unnest(t_reason), unnest(t_run), unnest(t_order),
               unnest(t_metadata), v_now
        returning 1
      ), moved as (
        update accounts a set debits_posted = a.debits_posted + v.dp, credits_posted = a.credits_posted + v.cp,
                              debits_pending = a.debits_pending + v.dpe, credits_pending = a.credits_pending + v.cpe
        from (select unnest(a_id) as id, unnest(a_debits_posted) as dp, unnest(a_credits_posted) as cp,
                     unnest(a_debits_pending) as dpe, unnest(a_credits_pending) as cpe, unnest(a_need) as need) v
        where a.id = v.id and (v.need is null or a.credits_posted - a.debits_posted - a.debits_pending >= v.need)
          and (select count(*) from inserted) >= 0
        returning a.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending
      )
      select string_agg(concat_ws(' ', id, debits_posted, credits_posted, debits_pending, credits_pending), ','), count(*)
        into v_accounts, v_moved from moved;
      if v_moved <> cardinality(a_id) then
        raise exception 'ledger: a wallet no longer has what the batch needs' using errcode = 'CL001';
      end if;
      if p_swept_to is not null then
        update ledger_expiry set swept_to = greatest(swept_to, p_swept_to);
      end if;
      return json_build_object('now', v_now, 'accounts', coalesce(v_accounts, ''));
    end $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(LEDGER_WRITE_V3);
}
