// Housekeeping on the real Temporal dev server: a real Worker runs the
// voidExpiredHolds and checkLedgerInvariants workflows against a real ledger.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { Client, Connection } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createLedger, type Ledger } from '../../core/ledger';
import type { Db } from '../../core/db';
import { createLedgerActivities } from '../../activities/ledger';
import { createAllowanceActivities } from '../../activities/ledger/allowances';
import { allowanceGrantId, allowancePeriod } from '../../core/instances/allowances';
import { checkLedgerInvariants, grantMonthlyAllowances, voidExpiredHolds } from '../../workflows/housekeeping';
import { housekeepingSchedules } from '../../core/housekeeping/contract';
import { ensureHousekeepingSchedules } from '../../workers/housekeeping';
import { freshDatabase, temporalClient, testConfig, workflowBundlePath } from '../support/stack';
import { initTracing } from '../../core/observability/tracing';
import { workerTracingOptions } from '../../workers/tracing';

let db: Db;
let drop: () => Promise<void>;
let ledger: Ledger;
let client: Client;
let connection: Connection;
let nativeConnection: NativeConnection;
const taskQueue = `housekeeping-test-${randomUUID()}`;

beforeAll(async () => {
  ({ db, drop } = await freshDatabase());
  ledger = createLedger(db);
  ({ client, connection } = await temporalClient());
  nativeConnection = await NativeConnection.connect({ address: testConfig().TEMPORAL_ADDRESS });
});

afterAll(async () => {
  await connection?.close();
  await nativeConnection?.close();
  await drop?.();
});

async function withWorker<T>(fn: () => Promise<T>): Promise<T> {
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowBundle: { codePath: workflowBundlePath() },
    ...workerTracingOptions(initTracing('cmp-test')),
    activities: { ...createLedgerActivities(ledger), ...createAllowanceActivities({ db, ledger }) },
  });
  return worker.runUntil(fn());
}

describe('housekeeping workflows', () => {
  it('voidExpiredHolds voids the expired hold and leaves the live one', async () => {
    const promo = (await ledger.ensureSystemAccount('promo')).id;
    const revenue = (await ledger.ensureSystemAccount('revenue')).id;
    const [org] = await db('organizations').insert({ name: 'Housekeeping org' }).returning<{ id: string }[]>('id');
    const wallet = (await ledger.ensureWallet(org!.id)).id;
    await ledger.transfer({ id: randomUUID(), debitAccountId: promo, creditAccountId: wallet, amount: 5_000, reason: 'starter_grant' });
    const expired = await ledger.hold({ id: randomUUID(), debitAccountId: wallet, creditAccountId: revenue, amount: 2_000, reason: 'run', timeoutMs: 10 });
    const live = await ledger.hold({ id: randomUUID(), debitAccountId: wallet, creditAccountId: revenue, amount: 1_000, reason: 'run', timeoutMs: 3_600_000 });
    await new Promise((r) => setTimeout(r, 50));
    expect((await ledger.balance(wallet)).available).toBe(2_000);

    const result = await withWorker(() =>
      client.workflow.execute(voidExpiredHolds, { taskQueue, workflowId: `void-expired-holds-${randomUUID()}`, workflowExecutionTimeout: '1 minute' }),
    );
    expect(result).toEqual({ voided: 1 });
    expect(await ledger.getTransfer(`expire:${expired.id}`)).toMatchObject({ kind: 'void_pending', amount: 2_000, reason: 'expired' });
    expect(await ledger.getTransfer(`expire:${live.id}`)).toBeNull();
    expect(await ledger.balance(wallet)).toMatchObject({ available: 4_000, debitsPending: 1_000 });

    const check = await withWorker(() => client.workflow.execute(checkLedgerInvariants, { taskQueue, workflowId: `check-ledger-${randomUUID()}` }));
    expect(check).toEqual({ violations: [] });
  });

  it('checkLedgerInvariants fails loudly when the ledger is broken', async () => {
    // Corrupt a cached balance behind the ledger's back.
    const promo = (await ledger.ensureSystemAccount('promo')).id;
    await db('accounts').where({ id: promo }).increment('credits_posted', 1);
    try {
      const error = await withWorker(() =>
        client.workflow.execute(checkLedgerInvariants, { taskQueue, workflowId: `check-ledger-${randomUUID()}` }).then(
          () => null,
          (e: unknown) => e,
        ),
      );
      expect(error).toBeInstanceOf(WorkflowFailedError);
      const cause = (error as WorkflowFailedError).cause as { type?: string; message: string };
      expect(cause.type).toBe('LedgerInvariantViolation');
      expect(cause.message).toMatch(/sum to 1, not 0/);
    } finally {
      await db('accounts').where({ id: promo }).decrement('credits_posted', 1);
    }
    expect((await ledger.checkInvariants()).violations).toEqual([]);
  });

  it('grantMonthlyAllowances credits each active instance with monthly credits once a month, whatever runs twice', async () => {
    const [org] = await db('organizations').insert({ name: 'Allowance org' }).returning<{ id: string }[]>('id');
    const [offering] = await db('offerings').insert({ slug: `allowance-${randomUUID()}`, name: 'Allowance agent' }).returning<{ id: string }[]>('id');
    const [version] = await db('offering_versions')
      .insert({ offering_id: offering!.id, version: '1.0.0', artifact_key: 'flows/x.json', sha256: 'a'.repeat(64) })
      .returning<{ id: string }[]>('id');
    const plan = async (code: string, monthlyMc: number) =>
      (await db('plans').insert({ offering_id: offering!.id, code, name: code, monthly_credits_mc: monthlyMc }).returning<{ id: string }[]>('id'))[0]!.id;
    const [plus, free] = [await plan('plus', 2_000_000), await plan('free', 0)];
    const instance = async (planId: string, status: string, line: number) => {
      const id = randomUUID();
      await db('instances').insert({
        id, org_id: org!.id, offering_id: offering!.id, offering_version_id: version!.id, plan_id: planId, status, order_id: `allowance-${id}`, order_line: line,
      });
      return id;
    };
    const active = await instance(plus, 'active', 0);
    const alreadyGranted = await instance(plus, 'active', 0);
    await instance(plus, 'deprovisioned', 0);
    await instance(free, 'active', 0);
    const wallet = (await ledger.ensureWallet(org!.id)).id;
    const period = allowancePeriod(new Date());
    // The month's grant made at activation counts: the sweep does not add another.
    const promo = (await ledger.ensureSystemAccount('promo')).id;
    await ledger.transfer({ id: allowanceGrantId(alreadyGranted, period), debitAccountId: promo, creditAccountId: wallet, amount: 2_000_000, reason: 'monthly_allowance' });

    const first = await withWorker(() => client.workflow.execute(grantMonthlyAllowances, { taskQueue, workflowId: `allowances-${randomUUID()}` }));
    expect(first).toEqual({ period, granted: 1 });
    expect(await ledger.getTransfer(allowanceGrantId(active, period))).toMatchObject({ amount: 2_000_000, reason: 'monthly_allowance', creditAccountId: wallet });
    expect((await ledger.balance(wallet)).available).toBe(4_000_000);

    const again = await withWorker(() => client.workflow.execute(grantMonthlyAllowances, { taskQueue, workflowId: `allowances-${randomUUID()}` }));
    expect(again).toEqual({ period, granted: 0 });
    expect((await ledger.balance(wallet)).available).toBe(4_000_000);
    expect((await ledger.checkInvariants()).violations).toEqual([]);
  });

  it('the worker creates its schedules once, idempotently', async () => {
    const queue = `housekeeping-schedules-${randomUUID()}`;
    const ids = Object.values(housekeepingSchedules).map((s) => s.scheduleId);
    for (const id of ids) await client.schedule.getHandle(id).delete().catch(() => undefined);
    try {
      expect(await ensureHousekeepingSchedules(client, queue)).toEqual(ids);
      expect(await ensureHousekeepingSchedules(client, queue)).toEqual([]);
      const described = await client.schedule.getHandle(housekeepingSchedules.voidExpiredHolds.scheduleId).describe();
      expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'voidExpiredHolds', taskQueue: queue });
      expect(described.spec.intervals?.[0]?.every).toBe(60_000);
    } finally {
      for (const id of ids) await client.schedule.getHandle(id).delete().catch(() => undefined);
    }
  });
});
