// ledger_lock_and_load, planned for the data it meets. PL/pgSQL caches a
// generic plan per statement; the first one, made while `transfers` was small,
// read it by sequential scan and kept doing so as it grew (the ledger fell
// from ~800 to ~350 hold+settle pairs/s within ten seconds). Custom plans for
// every call use the indexes at any size, and the accounts are looked up
// through an array so their primary key serves that read too.
import type { Knex } from 'knex';
import { LOCK_AND_LOAD_V1 } from './20261125_002_ledger';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create or replace function ledger_lock_and_load(
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
      -- Locks are taken in id order by every process: no deadlocks.
      select coalesce(json_agg(a), '[]') into v_accounts from (
        select id, debits_must_not_exceed_credits as limited, debits_posted, credits_posted, debits_pending, credits_pending
        from accounts where id = any(v_account_ids)
        order by id for update) a;
      select coalesce(json_agg(t), '[]') into v_transfers from (
        select * from transfers where id = any(p_ids || v_pending)
        union all
        select * from transfers where pending_id = any(v_pending) and not (id = any(p_ids || v_pending))) t;
      return json_build_object('now', now(), 'accounts', v_accounts, 'transfers', v_transfers, 'candidates', to_json(v_candidates));
    end $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function ledger_lock_and_load(uuid[], text[], text[], timestamptz, int)');
  await knex.raw(LOCK_AND_LOAD_V1);
}
