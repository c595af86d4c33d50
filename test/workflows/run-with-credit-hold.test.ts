// runWithCreditHold on the time-skipping test server with typed fakes of the
// run activities: a hold refused, a runtime failure and a runtime timeout each
// release the hold; a success settles at most the hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { RunActivities } from '../../activities/runs';
import { runWorkflowId, type RunOutcome, type RunRequest } from '../../core/runs/contract';
import { startTimeSkipping, testWorker } from '../support/workflow-env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkipping();
}, 60_000);
afterAll(async () => env?.teardown());

interface Ledger {
  availableMc: number;
  holds: Map<string, number>;
  settled: { runId: string; amountMc: number }[];
  released: string[];
  recorded: RunOutcome[];
  runtimeCalls: number;
}

/** A wallet with `availableMc`, holds as in the ledger (placing one reserves it, settling posts ≤ it, releasing gives it back). */
function runFakes(availableMc: number, executeRun: RunActivities['executeRun']) {
  const ledger: Ledger = { availableMc, holds: new Map(), settled: [], released: [], recorded: [], runtimeCalls: 0 };
  const fakes: RunActivities = {
    async placeHold(input) {
      if (ledger.holds.has(input.runId)) return { ok: true };
      if (ledger.availableMc < input.holdMc) return { ok: false, availableMc: ledger.availableMc };
      ledger.availableMc -= input.holdMc;
      ledger.holds.set(input.runId, input.holdMc);
      return { ok: true };
    },
    async executeRun(input) {
      ledger.runtimeCalls++;
      return executeRun(input);
    },
    async settleHold(input) {
      const held = ledger.holds.get(input.runId)!;
      if (input.amountMc > held) throw ApplicationFailure.nonRetryable(`settle ${input.amountMc} exceeds the hold ${held}`, 'validation');
      ledger.holds.delete(input.runId);
      ledger.availableMc += held - input.amountMc;
      ledger.settled.push({ runId: input.runId, amountMc: input.amountMc });
      return { balanceMc: ledger.availableMc };
    },
    async releaseHold(input) {
      ledger.availableMc += ledger.holds.get(input.runId) ?? 0;
      ledger.holds.delete(input.runId);
      ledger.released.push(input.runId);
    },
    async recordRun(input) {
      ledger.recorded.push(input.outcome);
    },
    // As the activity composes them: settle (succeeded) or release (failed, timed out), then record.
    async finishRun({ req, outcome }) {
      let balanceMc: number | null = null;
      if (outcome.status === 'succeeded') balanceMc = (await fakes.settleHold({ runId: req.runId, payer: req.payer, amountMc: outcome.chargedMc })).balanceMc;
      else if (outcome.status !== 'rejected') await fakes.releaseHold({ runId: req.runId });
      await fakes.recordRun({ req, outcome });
      return { balanceMc };
    },
  };
  return { fakes, ledger };
}

let runs = 0;
function request(overrides: Partial<RunRequest> = {}): RunRequest {
  return {
    runId: `run-${process.pid}-${++runs}`, payer: { kind: 'org', orgId: 'org-1' }, offeringId: 'off-1', instanceId: null, versionId: 'ver-1', apiKeyId: null,
    input: 'hello', holdMc: 5_000, pricePerRunMc: 1_000, pricePer1kTokensMc: 10, timeoutMs: 30_000, ...overrides,
  };
}

async function run(fakes: RunActivities, req: RunRequest): Promise<RunOutcome> {
  const { worker, taskQueue } = await testWorker(env, fakes);
  return worker.runUntil(env.client.workflow.execute('runWithCreditHold', { taskQueue, workflowId: runWorkflowId(req.runId), args: [req] }));
}

const answer = (tokens: number) => async () => ({ text: 'ok', usage: { inputTokens: tokens, outputTokens: 0 }, latencyMs: 12 });

describe('runWithCreditHold', () => {
  it('settles the run price plus its tokens and gives the rest of the hold back', async () => {
    const { fakes, ledger } = runFakes(10_000, answer(200));
    const outcome = await run(fakes, request());
    expect(outcome).toMatchObject({ status: 'succeeded', chargedMc: 1_000 + 2, balanceMc: 10_000 - 1_002 });
    expect(ledger.settled).toEqual([{ runId: expect.any(String), amountMc: 1_002 }]);
    expect(ledger.released).toEqual([]);
    expect(ledger.recorded.map((o) => o.status)).toEqual(['succeeded']);
  });

  it('settles at most the hold, however many tokens the run used', async () => {
    const { fakes, ledger } = runFakes(10_000, answer(10_000_000));
    const outcome = await run(fakes, request());
    expect(outcome).toMatchObject({ status: 'succeeded', chargedMc: 5_000, balanceMc: 5_000 });
    expect(ledger.settled.map((s) => s.amountMc)).toEqual([5_000]);
  });

  it('a refused hold runs nothing and charges nothing', async () => {
    const { fakes, ledger } = runFakes(4_999, answer(1));
    const outcome = await run(fakes, request());
    expect(outcome).toMatchObject({ status: 'rejected', reason: 'insufficient_credits', availableMc: 4_999, requiredMc: 5_000 });
    expect(ledger.runtimeCalls).toBe(0);
    expect(ledger.settled).toEqual([]);
    expect(ledger.availableMc).toBe(4_999);
    expect(ledger.recorded.map((o) => o.status)).toEqual(['rejected']);
  });

  it('a runtime failure releases the hold: the wallet is as before', async () => {
    const { fakes, ledger } = runFakes(10_000, async () => {
      throw ApplicationFailure.nonRetryable('Langflow answered 500', 'RuntimeRequestError');
    });
    const outcome = await run(fakes, request());
    expect(outcome).toMatchObject({ status: 'failed', error: { type: 'RuntimeRequestError', message: 'Langflow answered 500' } });
    expect(ledger.runtimeCalls).toBe(1);
    expect(ledger.released).toHaveLength(1);
    expect(ledger.settled).toEqual([]);
    expect(ledger.availableMc).toBe(10_000);
  });

  it('a runtime timeout releases the hold and is reported as timed out', async () => {
    const { fakes, ledger } = runFakes(10_000, async () => {
      throw ApplicationFailure.nonRetryable('no answer within 30000 ms', 'RuntimeTimeoutError');
    });
    const outcome = await run(fakes, request());
    expect(outcome).toMatchObject({ status: 'timed_out', error: { type: 'RuntimeTimeoutError' } });
    expect(ledger.runtimeCalls).toBe(1);
    expect(ledger.released).toHaveLength(1);
    expect(ledger.availableMc).toBe(10_000);
  });

  it('a retryable runtime error is tried once more, then releases the hold', async () => {
    const { fakes, ledger } = runFakes(10_000, async () => {
      throw new Error('socket hang up');
    });
    const outcome = await run(fakes, request());
    expect(outcome).toMatchObject({ status: 'failed' });
    expect(ledger.runtimeCalls).toBe(2);
    expect(ledger.released).toHaveLength(1);
    expect(ledger.availableMc).toBe(10_000);
  });
});
