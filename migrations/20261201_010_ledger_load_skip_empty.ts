// ledger_load_locked no longer looks transfers up by an empty list.
//
// The exact way's read runs with plans made for its values. For a batch of
// holds or transfers (no hold to resolve) the list of holds is empty, and the
// planner, seeing no row to find, read transfers_hold_timeout_idx whole:
// every hold ever written, for every such batch (here 2 ms at 6,000 holds,
// and growing with the ledger's history). Each lookup by a list now has a
// guard that the list is not empty, which folds to false for an empty one,
// so nothing is scanned. Same results, same locks.
import type { Knex } from 'knex';
import { LOAD_ARGS, LOAD_LOCKED_V2, LOAD_LOCKED_V2_COMMENT } from './20261201_007_ledger_guards_and_expiry';

/** The key of the ledger's advisory lock, and how long a sweep's barrier waits, as 20261201_007 made them. */
const LEDGER_LOCK = 7_254_410_001;
const BARRIER_WAIT = '1s';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function ledger_load_locked(
      p_account_ids uuid[], p_ids text[], p_pending_ids text[], p_expiry_now timestamptz, p_expiry_limit int
    ) returns json language plpgsql volatile set plan_cache_mode = force_custom_plan as $$
    declare
      v_candidates text[] := '{}';
      v_swept_to timestamptz;
      v_pending text[];
      v_ids text[];
      v_account_ids uuid[];
      v_accounts json;
      v_transfers json;
    begin
      if p_expiry_now is not null then
        declare
          v_from timestamptz;
          v_barrier timestamptz;
          v_count int;
          v_last timestamptz;
          v_lock_timeout text := current_setting('lock_timeout');
        begin
          -- The barrier (see the top of this migration): every write that held the lock has committed. New writes
          -- queue behind it, so it waits a second at most: a write stuck in flight must not stall the ledger. Then
          -- this sweep voids what it sees but leaves the mark where it is.
          begin
            perform set_config('lock_timeout', '${BARRIER_WAIT}', true);
            perform pg_advisory_lock(${LEDGER_LOCK});
            v_barrier := clock_timestamp();
            perform pg_advisory_unlock(${LEDGER_LOCK});
          exception when lock_not_available then
            v_barrier := null;
          end;
          perform set_config('lock_timeout', v_lock_timeout, true);
          select swept_to into v_from from ledger_expiry;
          -- A new statement, so a new snapshot: it sees every write before the barrier.
          select coalesce(array_agg(c.id order by c.timeout_at, c.id), '{}'), count(*), max(c.timeout_at)
            into v_candidates, v_count, v_last
          from (select h.id, h.timeout_at from transfers h
                where h.kind = 'pending' and h.timeout_at > v_from and h.timeout_at <= p_expiry_now
                  and not exists (select 1 from transfers r where r.pending_id = h.id)
                order by h.timeout_at, h.id limit p_expiry_limit) c;
          -- Once the candidates are voided, every hold up to here is resolved: all of them up to the barrier and
          -- the sweep's now, or, when the limit cut the list, up to just before the last candidate's timeout.
          v_swept_to := case when v_barrier is null then v_from else least(v_barrier, p_expiry_now) end;
          if v_count >= p_expiry_limit then
            v_swept_to := least(v_swept_to, v_last - interval '1 microsecond');
          end if;
          v_swept_to := greatest(v_swept_to, v_from);
        end;
      end if;
      -- Taken before any row lock, as ledger_write takes it (there again, re-entrant): a batch holding rows never
      -- queues behind a barrier that waits for a write queued behind those rows.
      perform pg_advisory_xact_lock_shared(${LEDGER_LOCK});
      v_pending := p_pending_ids || v_candidates;
      v_ids := p_ids || v_pending;
      -- Every lookup by a list is guarded by the list not being empty. Planned for its values, the guard of an
      -- empty one folds to false and nothing is scanned; without it the planner, seeing no row to find, picked
      -- an index to read whole: transfers_hold_timeout_idx, every hold ever written, for each batch of holds.
      -- Holds are immutable, so their accounts can be read before locking.
      v_account_ids := array(select unnest(p_account_ids)
                             union select debit_account_id from transfers where cardinality(v_pending) > 0 and id = any(v_pending)
                             union select credit_account_id from transfers where cardinality(v_pending) > 0 and id = any(v_pending));
      -- Every writer locks accounts in id order: no deadlocks between batches.
      select coalesce(json_agg(a), '[]') into v_accounts from (
        select id, debits_must_not_exceed_credits as limited, debits_posted, credits_posted, debits_pending, credits_pending
        from accounts where cardinality(v_account_ids) > 0 and id = any(v_account_ids) order by id for no key update) a;
      -- Read after the locks (a new snapshot per statement): every commit that touched these accounts is seen.
      select coalesce(json_agg(t), '[]') into v_transfers from (
        select * from transfers where cardinality(v_ids) > 0 and id = any(v_ids)
        union all
        select * from transfers where cardinality(v_pending) > 0 and pending_id = any(v_pending) and not (id = any(v_ids))) t;
      return json_build_object('now', now(), 'accounts', v_accounts, 'transfers', v_transfers,
                               'candidates', to_json(v_candidates), 'swept_to', v_swept_to);
    end $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop function ledger_load_locked(${LOAD_ARGS})`);
  await knex.raw(LOAD_LOCKED_V2);
  await knex.raw(LOAD_LOCKED_V2_COMMENT);
}
