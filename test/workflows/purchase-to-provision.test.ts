// purchaseToProvision on Temporal's time-skipping test server with typed fakes
// of its activities: the saga's paths in seconds, beside the full-stack test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import {
  cancelAndRefundUpdate, decideRefundUpdate, orderWorkflowId, progressQuery, retryUpdate, type OrderProgress, type RefundDecision,
  type RefundDecisionInput, type SupportAction,
} from '../../core/provisioning/contract';
import { until } from '../support/until';
import { startTimeSkipping, testWorker } from '../support/workflow-env';
import { PACK_MC, PAID_ORDER, permanent, provisioningFakes } from './provisioning-fakes';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkipping();
}, 60_000);
afterAll(async () => env?.teardown());

const support = { actor: 'support@cmp.local', reason: 'buyer asked to cancel' };
let orders = 0;

/** Starts the order on a worker of its own with these fakes; `body` drives it while the worker runs. */
async function withOrder<T>(fakes: ReturnType<typeof provisioningFakes>['fakes'], body: (h: WorkflowHandle) => Promise<T>): Promise<T> {
  const { worker, taskQueue } = await testWorker(env, fakes);
  const orderId = `${PAID_ORDER.orderId}-${++orders}`;
  return worker.runUntil(async () => {
    const h = await env.client.workflow.start('purchaseToProvision', { taskQueue, workflowId: orderWorkflowId(orderId), args: [{ kind: 'paid', orderId }] });
    return body(h);
  });
}

const progressOf = (h: WorkflowHandle) => h.query(progressQuery);
const retry = (h: WorkflowHandle, by: SupportAction = support) => h.executeUpdate(retryUpdate, { args: [by] });
const cancel = (h: WorkflowHandle, by: SupportAction = support) => h.executeUpdate(cancelAndRefundUpdate, { args: [by] });
const decide = (h: WorkflowHandle, d: RefundDecisionInput) => h.executeUpdate(decideRefundUpdate, { args: [d] });
/** Refused: by the workflow's validator (it would not carry the action out), or the workflow has ended meanwhile. */
const refused = (p: Promise<unknown>) =>
  expect(p).rejects.toSatisfy((e) => e instanceof WorkflowUpdateFailedError || e instanceof WorkflowNotFoundError);
const parked = (h: WorkflowHandle, what = 'needs attention', test: (p: OrderProgress) => boolean = () => true) =>
  until(what, async () => {
    const p = await progressOf(h);
    // Ended while the test waits for it to park: say how, at once.
    if (p.status === 'cancelled' || p.status === 'fulfilled') throw new Error(`the order ended ${p.status} instead (steps: ${p.steps.map((s) => `${s.name} ${s.status}`).join(', ')})`);
    return p.status === 'needs_attention' && test(p) ? p : null;
  }, 15_000);

/** The plan line's artifact check fails, so the order parks with the credit pack already granted. */
const hashMismatch = { verifyArtifact: async () => { throw permanent('sha256 mismatch', 'ArtifactIntegrityError'); } };

describe('purchaseToProvision', () => {
  it('fulfils a paid order: credits granted, instance provisioned and activated, Saleor told', async () => {
    const { fakes, world } = provisioningFakes();
    const result = await withOrder(fakes, (h) => h.result());
    expect(result.status).toBe('fulfilled');
    expect(world.walletMc).toBe(PACK_MC);
    expect(world.calls.activateInstance).toHaveLength(1);
    expect(world.calls.markOrderFulfilled).toHaveLength(1);
    expect(world.statuses.at(-1)).toBe('fulfilled');
  });

  it('a parked step runs again when support retries, and the order is fulfilled', async () => {
    let attempts = 0;
    const { fakes, world } = provisioningFakes({
      verifyArtifact: async () => {
        if (++attempts === 1) throw permanent('sha256 mismatch', 'ArtifactIntegrityError');
        return { sha256: 'a'.repeat(64), bytes: 10 };
      },
    });
    const result = await withOrder(fakes, async (h) => {
      const p = await parked(h);
      expect(p.lastError).toMatchObject({ step: 'verify flow artifact', type: 'ArtifactIntegrityError', message: 'sha256 mismatch' });
      await retry(h);
      return h.result();
    });
    expect(result.status).toBe('fulfilled');
    expect(attempts).toBe(2);
    expect(world.statuses).toEqual(['provisioning', 'needs_attention', 'provisioning', 'fulfilled']);
    expect(world.calls.grantCredits).toHaveLength(1);
  });

  it('cancel: compensations newest-first, then the whole order refunded once', async () => {
    const { fakes, world } = provisioningFakes(hashMismatch);
    const { result, progress } = await withOrder(fakes, async (h) => {
      await parked(h);
      await cancel(h);
      return { result: await h.result(), progress: await progressOf(h) };
    });
    expect(result.status).toBe('cancelled');
    expect(progress.steps.filter((s) => s.status === 'compensated').map((s) => s.name)).toEqual(['delete secrets', 'deactivate instance', 'void credits (line 0)']);
    expect(world.walletMc).toBe(0);
    expect(world.refunds).toEqual([{ amountCents: 2990, reason: `cancel:${result.orderId}` }]);
    expect(progress.refund).toEqual({ decision: 'full', by: support.actor, refundedMinor: 2990, creditsTakenBackMc: PACK_MC, creditsWrittenOffMc: 0 });
  });

  it('cancel while a step is still running: the step finishes, nothing after it starts, what it made is undone', async () => {
    let release!: () => void;
    const registering = new Promise<void>((r) => (release = r));
    const { fakes, world } = provisioningFakes({
      registerFlow: async (input) => {
        (world.calls.registerFlow ??= []).push(input);
        await registering;
        return { flowId: 'flow-1' };
      },
    });
    const { result, progress } = await withOrder(fakes, async (h) => {
      await until('the flow is being registered', async () => world.calls.registerFlow?.length === 1);
      // The update is accepted before the step's completion: the workflow sees the cancel while the step runs.
      await cancel(h);
      release();
      return { result: await h.result(), progress: await progressOf(h) };
    });
    expect(result.status).toBe('cancelled');
    expect(world.calls.commitManifests).toBeUndefined();
    expect(world.calls.activateInstance).toBeUndefined();
    expect(progress.steps.find((s) => s.name === 'register flow')?.status).toBe('done');
    expect(progress.steps.filter((s) => s.status === 'compensated').map((s) => s.name)).toEqual(['delete secrets', 'deactivate instance', 'void credits (line 0)']);
    expect(world.refunds).toHaveLength(1);
  });

  describe('a compensation that fails is never followed by a full refund', () => {
    /** Parks on the hash mismatch, the buyer spends 300 of the pack's 1,000 credits, support cancels. */
    async function cancelAfterSpending(h: WorkflowHandle, world: ReturnType<typeof provisioningFakes>['world']) {
      await parked(h, 'parked on the artifact');
      world.walletMc -= 300_000;
      await cancel(h);
      return parked(h, 'parked for a refund decision', (p) => p.unwind !== undefined);
    }

    it('parks with the failing compensation, what was and was not taken back, and what each decision would refund', async () => {
      const { fakes, world } = provisioningFakes(hashMismatch);
      const p = await withOrder(fakes, async (h) => {
        const p = await cancelAfterSpending(h, world);
        await h.terminate('test over');
        return p;
      });
      expect(world.calls.refundOrder).toBeUndefined();
      expect(p.lastError).toMatchObject({ step: 'void credits (line 0)', type: 'CompensationFailed' });
      expect(p.unwind).toEqual({
        currency: 'USD', totalMinor: 2990,
        failed: [{ compensation: 'void credits (line 0)', lines: [0], error: expect.objectContaining({ type: 'insufficient-credits' }) }],
        takenBack: ['deactivate instance', 'delete secrets'],
        lines: [
          { line: 0, kind: 'credit_pack', totalMinor: 1000, grantedMc: PACK_MC, unspentMc: 700_000, takenBack: false },
          { line: 1, kind: 'plan', totalMinor: 1990, takenBack: true },
        ],
        // 70 % of the pack's $10.00 and the whole Pro plan.
        refundUnspentMinor: 700 + 1990,
        refundAllMinor: 2990,
      });
    });

    const cases: [RefundDecision, { refund: { amountCents: number; reason: string } | null; walletMc: number; writtenOffMc: number; refundedMinor: number }][] = [
      ['refund_unspent', { refund: { amountCents: 2690, reason: 'cancel:ORDER:refund_unspent' }, walletMc: 0, writtenOffMc: 0, refundedMinor: 2690 }],
      ['refund_all', { refund: { amountCents: 2990, reason: 'cancel:ORDER:refund_all' }, walletMc: 0, writtenOffMc: 300_000, refundedMinor: 2990 }],
      ['keep', { refund: null, walletMc: 700_000, writtenOffMc: 0, refundedMinor: 0 }],
    ];
    for (const [decision, want] of cases) {
      it(`support decides ${decision}: exactly that is refunded and taken back, once however often the decision is sent`, async () => {
        const { fakes, world } = provisioningFakes(hashMismatch);
        const { result, progress, orderId } = await withOrder(fakes, async (h) => {
          await cancelAfterSpending(h, world);
          const decided = { ...support, reason: 'support decision', decision };
          const report = await decide(h, decided);
          expect(report).toMatchObject({ refundAllMinor: 2990, refundUnspentMinor: 2690 });
          await refused(decide(h, decided));
          return { result: await h.result(), progress: await progressOf(h), orderId: h.workflowId.replace(/^order-/, '') };
        });
        expect(result.status).toBe('cancelled');
        expect(world.refunds).toEqual(want.refund ? [{ ...want.refund, reason: want.refund.reason.replace('ORDER', orderId) }] : []);
        // Saleor learns of the cancel once, even when nothing is refunded (keep).
        expect(world.calls.refundOrder).toEqual([expect.objectContaining({ amountCents: want.refund?.amountCents ?? 0 })]);
        expect(world.walletMc).toBe(want.walletMc);
        expect(world.writeOffs.reduce((n, w) => n + w.amountMc, 0)).toBe(want.writtenOffMc);
        expect(progress.refund).toMatchObject({ decision, refundedMinor: want.refundedMinor, creditsWrittenOffMc: want.writtenOffMc });
        expect(progress.unwind).toBeUndefined();
      });
    }

    it('support retries the failed compensation once the credits are back: then the whole order is refunded', async () => {
      const { fakes, world } = provisioningFakes(hashMismatch);
      const result = await withOrder(fakes, async (h) => {
        await cancelAfterSpending(h, world);
        world.walletMc += 300_000; // a run's hold was released
        await retry(h);
        return h.result();
      });
      expect(result.status).toBe('cancelled');
      expect(world.walletMc).toBe(0);
      expect(world.refunds).toEqual([{ amountCents: 2990, reason: expect.stringMatching(/^cancel:[^:]+$/) }]);
    });

    it('two decisions at the same moment: the workflow accepts exactly one and refuses the other', async () => {
      const { fakes, world } = provisioningFakes(hashMismatch);
      const { answers, progress } = await withOrder(fakes, async (h) => {
        await cancelAfterSpending(h, world);
        const answers = await Promise.allSettled([
          decide(h, { ...support, reason: 'first', decision: 'keep' }),
          decide(h, { ...support, reason: 'second', decision: 'refund_all' }),
        ]);
        await h.result();
        return { answers, progress: await progressOf(h) };
      });
      expect(answers.map((a) => a.status).sort()).toEqual(['fulfilled', 'rejected']);
      await refused(Promise.reject(answers.find((a): a is PromiseRejectedResult => a.status === 'rejected')!.reason));
      const taken = answers[0]!.status === 'fulfilled' ? 'keep' : 'refund_all';
      expect(progress.refund?.decision).toBe(taken);
    });

    it('while the order waits for a decision a cancel is refused; retry and decide are not', async () => {
      const { fakes, world } = provisioningFakes(hashMismatch);
      const result = await withOrder(fakes, async (h) => {
        await cancelAfterSpending(h, world);
        await refused(cancel(h));
        // A retry that fails again parks for a decision with a fresh report: only then is a decision accepted.
        await retry(h);
        await parked(h, 'parked for a decision again', (p) => p.unwind !== undefined);
        await decide(h, { ...support, reason: 'after the retry', decision: 'keep' });
        await refused(retry(h));
        return h.result();
      });
      expect(result.status).toBe('cancelled');
      expect(world.calls.voidCredits).toHaveLength(2);
    });
  });

  describe('support actions the workflow would ignore are refused', () => {
    it('retry with nothing parked, a second cancel, any action on a finished order', async () => {
      let release!: () => void;
      const registering = new Promise<void>((r) => (release = r));
      const { fakes, world } = provisioningFakes({
        registerFlow: async (input) => {
          (world.calls.registerFlow ??= []).push(input);
          await registering;
          return { flowId: 'flow-1' };
        },
      });
      await withOrder(fakes, async (h) => {
        await until('the flow is being registered', async () => world.calls.registerFlow?.length === 1);
        await refused(retry(h));
        await refused(decide(h, { ...support, decision: 'keep' }));
        await cancel(h);
        await refused(cancel(h));
        release();
        expect((await h.result()).status).toBe('cancelled');
        await refused(cancel(h));
      });
    });

    it('a retried refund activity gets the amount the first attempt got, and the refund reports it', async () => {
      const amounts: number[] = [];
      const { fakes } = provisioningFakes({
        ...hashMismatch,
        refundOrder: async (input) => {
          amounts.push(input.amountCents);
          // The first attempt refunded, then its metadata write failed (retryable).
          if (amounts.length === 1) throw new Error('Saleor metadata write timed out');
          return { refundedCents: input.amountCents };
        },
      });
      const progress = await withOrder(fakes, async (h) => {
        await parked(h);
        await cancel(h);
        await h.result();
        return progressOf(h);
      });
      expect(amounts).toEqual([2990, 2990]);
      expect(progress.refund).toMatchObject({ decision: 'full', refundedMinor: 2990 });
    });
  });
});
