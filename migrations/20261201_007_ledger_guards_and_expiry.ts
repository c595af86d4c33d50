// The ledger's guards checked once a batch, and expiry without a list of open holds.
//
// The foreign keys of transfers (debit and credit account, the hold a
// settlement resolves) were checked by a trigger per row: a query of its own
// each, which also locked the referenced row (the hold's row lock a WAL
// record, the accounts' a multixact beside the batch's own lock): about a
// quarter of PostgreSQL's time per operation. ledger_write now proves the
// same for the whole batch, and more, before it writes anything (CL003):
// - every account a transfer names is one the batch moves, and the balance
//   update (which locks and counts them) proves each exists;
// - every hold a transfer resolves is a hold between the same two accounts,
//   written before or in this batch;
// - every hold times out at least 1 ms after it is written (see below).
// What the keys also gave, that a referenced row is never removed, is a rule
// of its own: transfers are never updated, deleted or truncated, and accounts
// never deleted or truncated (CL004), whoever tries.
//
// pending_holds, the expiry sweep's list of open holds, was written twice per
// hold: a row (and two index entries) when the hold opened, a delete when it
// resolved: about a seventh of PostgreSQL's time per operation. Now the sweep
// reads holds by their timeout from a partial index on transfers, and keeps
// how far it has swept: ledger_expiry.swept_to, before or at which every hold
// is resolved. Each sweep reads only the holds that timed out since.
//
// What makes that safe is knowing that no hold still to commit can time out
// at or before swept_to. Every ledger_write takes the ledger's advisory lock
// shared until it commits, and stamps its transfers with the clock as it
// holds the lock. A sweep first takes the lock exclusively for an instant (a
// barrier): every write that held the lock has committed, so the sweep's next
// snapshot sees it, and any later write holds the lock after the barrier, so
// its stamp, and its holds' timeouts (at least 1 ms later), are later than
// the barrier's clock. swept_to never passes that clock. New writes queue
// behind a waiting barrier, so it waits a second at most: when a write is
// stuck in flight, the sweep voids what it sees and leaves the mark.
import type { Knex } from 'knex';
import { LEDGER_WRITE_V1, LOAD_LOCKED_V1, WRITE_ARGS as WRITE_V1_ARGS } from './20261201_006_ledger_optimistic_batches';

const FOREIGN_KEYS = [
  ['transfers_debit_account_id_foreign', 'debit_account_id', 'accounts'],
  ['transfers_credit_account_id_foreign', 'credit_account_id', 'accounts'],
  ['transfers_pending_id_foreign', 'pending_id', 'transfers'],
] as const;
export const WRITE_ARGS = 'text[], uuid[], uuid[], bigint[], text[], text[], bigint[], text[], text[], text[], jsonb[], uuid[], bigint[], bigint[], bigint[], bigint[], bigint[], timestamptz[], timestamptz';
export const LOAD_ARGS = 'uuid[], text[], text[], timestamptz, int';
/** The key of the ledger's advisory lock (writes share it; a sweep's barrier takes it alone for an instant). */
const LEDGER_LOCK = 7_254_410_001;
/** How long a sweep's barrier waits for the writes in flight before it gives up (and leaves the mark). */
const BARRIER_WAIT = '1s';

/** ledger_load_locked as this migration made it (20261201_010 replaces it, and restores it on the way down). */
export const LOAD_LOCKED_V2 = `
    create function ledger_load_locked(
      p_account_ids uuid[], p_ids text[], p_pending_ids text[], p_expiry_now timestamptz, p_expiry_limit int
    ) returns json language plpgsql volatile set plan_cache_mode = force_custom_plan as $$
    declare
      v_candidates text[] := '{}';
      v_swept_to timestamptz;
      v_pending text[];
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
      return json_build_object('now', now(), 'accounts', v_accounts, 'transfers', v_transfers,
                               'candidates', to_json(v_candidates), 'swept_to', v_swept_to);
    end $$`;
export const LOAD_LOCKED_V2_COMMENT = `comment on function ledger_load_locked(${LOAD_ARGS}) is
    'Ledger batcher, exact way: locks the accounts of a batch in id order, then loads the transfers it may meet; for an expiry, the holds timed out since ledger_expiry.swept_to and how far voiding them sweeps.'`;

/** ledger_write as this migration made it (20261201_008 replaces it, and restores it on the way down). */
export const LEDGER_WRITE_V2 = `
    create function ledger_write(
      t_id text[], t_debit uuid[], t_credit uuid[], t_amount bigint[], t_kind text[], t_pending text[], t_timeout_ms bigint[],
      t_reason text[], t_run text[], t_order text[], t_metadata jsonb[],
      a_id uuid[], a_debits_posted bigint[], a_credits_posted bigint[], a_debits_pending bigint[], a_credits_pending bigint[],
      a_need bigint[], p_settled_timeouts timestamptz[], p_swept_to timestamptz
    ) returns json language plpgsql volatile
      -- Planned once per connection, and never by reading a whole table: its statements touch a few rows by key.
      set plan_cache_mode = force_generic_plan set enable_seqscan = off as $$
    declare
      v_now timestamptz;
      v_accounts json;
    begin
      -- Shared with every other write until commit, and taken before the update's row locks; an expiry sweep's
      -- barrier waits for it.
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
      -- The hold is looked up by id alone: a condition on kind would let the plan, made once while transfers may
      -- still be empty, walk transfers_hold_timeout_idx (every hold ever) instead of the primary key.
      if exists (
        select 1 from unnest(t_pending, t_debit, t_credit) as r(pending, debit, credit)
        where r.pending is not null
          and not exists (select 1 from unnest(t_id, t_kind, t_debit, t_credit) as b(id, kind, debit, credit)
                          where b.id = r.pending and b.kind = 'pending' and b.debit = r.debit and b.credit = r.credit)
          and not coalesce((select h.kind = 'pending' and h.debit_account_id = r.debit and h.credit_account_id = r.credit
                            from transfers h where h.id = r.pending), false)
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
      ), moved as (
        update accounts a set debits_posted = a.debits_posted + v.dp, credits_posted = a.credits_posted + v.cp,
                              debits_pending = a.debits_pending + v.dpe, credits_pending = a.credits_pending + v.cpe
        from unnest(a_id, a_debits_posted, a_credits_posted, a_debits_pending, a_credits_pending, a_need) as v(id, dp, cp, dpe, cpe, need)
        where a.id = v.id and (v.need is null or a.credits_posted - a.debits_posted - a.debits_pending >= v.need)
          and (select count(*) from inserted) >= 0
        returning a.id, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending
      )
      select coalesce(json_agg(moved), '[]') into v_accounts from moved;
      if json_array_length(v_accounts) <> cardinality(a_id) then
        raise exception 'ledger: a wallet no longer has what the batch needs' using errcode = 'CL001';
      end if;
      if p_swept_to is not null then
        update ledger_expiry set swept_to = greatest(swept_to, p_swept_to);
      end if;
      return json_build_object('now', v_now, 'accounts', v_accounts);
    end $$`;

export const LEDGER_WRITE_V2_COMMENT = `comment on function ledger_write(${WRITE_ARGS}) is
    'Ledger batcher: writes a batch (transfers, balance deltas, how far an expiry swept) and returns the new balances; raises CL001 (a wallet no longer has what the batch needs), CL002 (a settled hold timed out) or CL003 (a batch that breaks the ledger''s rules) and writes nothing.'`;

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

  await knex.raw(`create index transfers_hold_timeout_idx on transfers (timeout_at, id) where kind = 'pending'`);
  await knex.raw(`
    create table ledger_expiry (
      singleton boolean primary key default true check (singleton),
      swept_to timestamptz not null
    )`);
  await knex.raw(`comment on table ledger_expiry is
    'How far the expiry sweep has gone: every hold whose timeout_at is at or before swept_to is resolved.'`);
  // pending_holds is exact (checkLedgerInvariants proves it): every hold timing out before its earliest is resolved.
  await knex.raw(`insert into ledger_expiry (swept_to)
                  select least(now(), (select min(timeout_at) from pending_holds) - interval '1 microsecond')`);
  await knex.raw('drop table pending_holds');

  await knex.raw(`drop function ledger_load_locked(${LOAD_ARGS})`);
  await knex.raw(LOAD_LOCKED_V2);
  await knex.raw(LOAD_LOCKED_V2_COMMENT);

  await knex.raw(`drop function ledger_write(${WRITE_V1_ARGS})`);
  await knex.raw(LEDGER_WRITE_V2);
  await knex.raw(LEDGER_WRITE_V2_COMMENT);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop function ledger_write(${WRITE_ARGS})`);
  await knex.raw(LEDGER_WRITE_V1);
  await knex.raw(`drop function ledger_load_locked(${LOAD_ARGS})`);
  await knex.raw(LOAD_LOCKED_V1);
  // As 20261201_006 left it (no foreign key), with the open holds.
  await knex.raw('create table pending_holds (transfer_id text primary key, timeout_at timestamptz not null)');
  await knex.raw('create index pending_holds_timeout_idx on pending_holds (timeout_at)');
  await knex.raw(`insert into pending_holds (transfer_id, timeout_at)
                  select h.id, h.timeout_at from transfers h
                  where h.kind = 'pending' and not exists (select 1 from transfers r where r.pending_id = h.id)`);
  await knex.raw('drop table ledger_expiry');
  await knex.raw('drop index transfers_hold_timeout_idx');
  for (const [name, column, table] of FOREIGN_KEYS) {
    await knex.raw(`alter table transfers add constraint ${name} foreign key (${column}) references ${table} (id)`);
  }
  await knex.raw('drop trigger accounts_permanent on accounts');
  await knex.raw('drop trigger transfers_immutable on transfers');
  await knex.raw('drop function ledger_refuse_change()');
}
