// purchaseToProvision (`order-<orderId>`): from a paid Saleor order (or a free
// subscription) to active agent instances. Every external call is an activity
// with its own retry policy. A permanent failure does not vanish: the order
// shows "needs attention" with the failing step and its error, and waits for
// support to `retry` (the step again) or `cancelAndRefund` (compensations
// newest-first, then the refund).
import {
  ActivityFailure, ApplicationFailure, condition, isCancellation, log, patched, proxyActivities, proxyLocalActivities, setHandler, sleep,
  upsertSearchAttributes, uuid4, workflowInfo,
} from '@temporalio/workflow';
import type { ProvisioningActivities, ResolvedLine } from '../../activities/provisioning';
import { CmpInstanceId, CmpOrderId, CmpOrgId, CmpStatus } from '../shared/search-attributes';
import { activityOptions, localActivityOptions } from '../retry-policies';
import {
  cancelAndRefundSignal, progressQuery, retrySignal,
  type OrderInput, type OrderProgress, type OrderStatus, type StepError, type SupportAction,
} from './contract';

const saleor = proxyActivities<ProvisioningActivities>(activityOptions.saleor);
const saleorReadLocal = proxyLocalActivities<ProvisioningActivities>(localActivityOptions.saleor);
const dbRemote = proxyActivities<ProvisioningActivities>(activityOptions.database);
const dbLocal = proxyLocalActivities<ProvisioningActivities>(localActivityOptions.database);
const s3Remote = proxyActivities<ProvisioningActivities>(activityOptions.s3);
const s3Local = proxyLocalActivities<ProvisioningActivities>(localActivityOptions.s3);
const runtime = proxyActivities<ProvisioningActivities>(activityOptions.runtime);
const probeLocal = proxyLocalActivities<ProvisioningActivities>(localActivityOptions.runtime);
const vault = proxyActivities<ProvisioningActivities>(activityOptions.vault);
const git = proxyActivities<ProvisioningActivities>(activityOptions.git);

/** How long activation waits for the runtime to answer for the flow before it is a failure. */
const READY_POLLS = 30;
const READY_POLL_INTERVAL = '2s';

export interface ProvisionResult {
  orderId: string;
  status: OrderStatus;
  instanceIds: string[];
}

export async function purchaseToProvision(input: OrderInput): Promise<ProvisionResult> {
  if (!input?.orderId || !/^[\w:.=-]{1,200}$/.test(input.orderId)) {
    throw ApplicationFailure.nonRetryable('purchaseToProvision needs a valid orderId', 'InvalidInput');
  }
  const orderId = input.orderId;
  // The short steps became local activities; orders started before keep replaying their regular ones.
  const local = patched('local-short-steps');
  const db = local ? dbLocal : dbRemote;
  const s3 = local ? s3Local : s3Remote;
  const probe = local ? probeLocal : runtime;
  const saleorRead = local ? saleorReadLocal : saleor;
  const progress: OrderProgress = { orderId, status: 'received', instanceIds: [], steps: [] };
  const compensations: { name: string; undo: () => Promise<unknown> }[] = [];
  /** Support's answers so far, and the last one: a parked step waits for the next answer. */
  let answered = 0;
  let answer: { action: 'retry' | 'cancel'; by: SupportAction } | undefined;
  /** Set by a cancel; steps stop at their next boundary and the order unwinds. */
  let cancelledBy: SupportAction | undefined;
  /** While compensating, a second cancel means "try the failed undo step again". */
  let unwinding = false;

  setHandler(progressQuery, () => progress);
  setHandler(retrySignal, (by) => {
    if (progress.status !== 'needs_attention') return;
    answer = { action: 'retry', by };
    answered++;
  });
  setHandler(cancelAndRefundSignal, (by) => {
    if (progress.status !== 'needs_attention' && progress.status !== 'provisioning' && progress.status !== 'received') return;
    answer = { action: 'cancel', by };
    answered++;
    if (!unwinding) cancelledBy ??= by;
  });

  class Cancelled extends Error {}

  // The database first, then the live view: whoever reads the query also finds the row updated.
  const setStatus = async (status: OrderStatus, error?: StepError & { step: string }) => {
    await db.setOrderState({ orderId, status, step: error?.step ?? progress.currentStep ?? null, error: error ?? null });
    progress.status = status;
    progress.lastError = error;
    upsertSearchAttributes([{ key: CmpStatus, value: status }]);
  };

  /**
   * Runs one step. A permanent failure parks the order until support answers:
   * retry runs the step again, cancel unwinds what was done. Steps may run side
   * by side; each parked one waits for the next answer.
   */
  async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (cancelledBy && !unwinding) throw new Cancelled();
      const record = { name, status: 'running' as const, attempts: attempt, startedAt: new Date().toISOString() };
      progress.steps.push(record);
      progress.currentStep = name;
      try {
        const result = await fn();
        Object.assign(record, { status: 'done', finishedAt: new Date().toISOString() });
        return result;
      } catch (err) {
        if (isCancellation(err)) throw err;
        const error = describe(err);
        Object.assign(record, { status: 'failed', error, finishedAt: new Date().toISOString() });
        log.warn('provisioning step failed; waiting for support', { step: name, error: error.message });
        const seen = answered;
        await setStatus('needs_attention', { ...error, step: name });
        await condition(() => answered > seen);
        if (answer!.action === 'cancel' && !unwinding) throw new Cancelled();
        log.info('support asked to retry', { step: name, by: answer!.by.actor });
        await setStatus(unwinding ? 'cancelling' : 'provisioning');
      }
    }
  }

  /** Runs independent branches side by side; waits for all of them, so none is still working when one failed. */
  async function together<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
    const [ra, rb] = await Promise.allSettled([a, b]);
    if (ra.status === 'rejected') throw ra.reason;
    if (rb.status === 'rejected') throw rb.reason;
    return [ra.value, rb.value];
  }

  upsertSearchAttributes([{ key: CmpOrderId, value: orderId }, { key: CmpStatus, value: 'received' }]);
  try {
    const order = await step('load order', () => saleorRead.loadOrder(input));
    const workspace = await step('ensure workspace', () => db.ensureWorkspace({ orderId, email: order.email, orgId: order.orgId, userId: order.userId }));
    progress.orgId = workspace.orgId;
    upsertSearchAttributes([{ key: CmpOrgId, value: workspace.orgId }]);
    await db.recordOrder({
      orderId, kind: input.kind, orgId: workspace.orgId, email: order.email, workflowId: workflowInfo().workflowId,
      totalCents: order.totalCents, currency: order.currency,
    });
    await setStatus('provisioning');
    const lines = await step('resolve order lines', () => db.resolveLines(order));

    const manifests: { instanceId: string; orgId: string; versionId: string; planId: string }[] = [];
    const toActivate: { instanceId: string; line: ResolvedLine & { kind: 'plan' } }[] = [];
    for (const line of lines) {
      if (line.kind === 'credit_pack') {
        const grant = { orderId, line: line.line, orgId: workspace.orgId, creditsMc: line.creditsMc * line.quantity };
        await step(`grant credits (line ${line.line})`, () => db.grantCredits(grant));
        compensations.push({ name: `void credits (line ${line.line})`, undo: () => db.voidCredits(grant) });
        continue;
      }
      // The free path names its instance up front so the store can show it at once.
      const instanceId = input.kind === 'free' ? input.instanceId : uuid4();
      const created = await step(`create instance (line ${line.line})`, () =>
        db.createInstance({ instanceId, orderId, line: line.line, orgId: workspace.orgId, offeringId: line.offeringId, versionId: line.versionId, planId: line.planId, workflowId: workflowInfo().workflowId }),
      );
      if (!progress.instanceIds.includes(created.instanceId)) progress.instanceIds.push(created.instanceId);
      upsertSearchAttributes([{ key: CmpInstanceId, value: created.instanceId }]);
      compensations.push({ name: 'deactivate instance', undo: () => db.deactivateInstance({ instanceId: created.instanceId }) });

      // The flow (checked, then registered) and the instance's secrets do not depend on each other.
      await together(
        (async () => {
          await step('verify flow artifact', () => s3.verifyArtifact({ versionId: line.versionId }));
          await step('register flow', () => runtime.registerFlow({ instanceId: created.instanceId, versionId: line.versionId }));
        })(),
        step('write secrets', () => vault.writeInstanceSecrets({ orgId: workspace.orgId, instanceId: created.instanceId })).then((secrets) => {
          compensations.push({ name: 'delete secrets', undo: () => vault.deleteInstanceSecrets({ path: secrets.path }) });
        }),
      );
      manifests.push({ instanceId: created.instanceId, orgId: workspace.orgId, versionId: line.versionId, planId: line.planId });
      toActivate.push({ instanceId: created.instanceId, line });
    }

    // The GitOps commit and the runtime's readiness are independent too; activation needs both.
    await together(
      manifests.length
        ? step('commit manifests', () => git.commitManifests({ orderId, instances: manifests })).then(() => {
          compensations.push({ name: 'remove manifests', undo: () => git.removeManifests({ orderId, instances: manifests }) });
        })
        : Promise.resolve(),
      (async () => {
        for (const { instanceId } of toActivate) {
          await step('wait for runtime', async () => {
            for (let poll = 0; poll < READY_POLLS; poll++) {
              if (await probe.checkRuntimeReady({ instanceId })) return;
              await sleep(READY_POLL_INTERVAL);
            }
            throw ApplicationFailure.nonRetryable(`The runtime did not answer for instance ${instanceId} within ${READY_POLLS} polls`, 'RuntimeNotReady');
          });
        }
      })(),
    );
    for (const { instanceId } of toActivate) await step('activate', () => db.activateInstance({ instanceId }));

    if (input.kind === 'paid') await step('mark order fulfilled', () => saleor.markOrderFulfilled({ orderId }));
    progress.currentStep = undefined;
    await setStatus('fulfilled');
    return { orderId, status: 'fulfilled', instanceIds: progress.instanceIds };
  } catch (err) {
    if (!(err instanceof Cancelled)) throw err;
    return await cancelOrder(cancelledBy!);
  }

  /** The saga's unwind: compensations newest-first, each failure logged and kept, then the refund. */
  async function cancelOrder(by: SupportAction): Promise<ProvisionResult> {
    // The cancel request is being served; a failing refund parks the order again for support.
    unwinding = true;
    await setStatus('cancelling');
    for (const c of [...compensations].reverse()) {
      const record = { name: c.name, status: 'running' as const, attempts: 1, startedAt: new Date().toISOString() };
      progress.steps.push(record);
      try {
        await c.undo();
        Object.assign(record, { status: 'compensated', finishedAt: new Date().toISOString() });
      } catch (err) {
        Object.assign(record, { status: 'failed', error: describe(err), finishedAt: new Date().toISOString() });
        log.error('compensation failed', { compensation: c.name, error: describe(err).message });
      }
    }
    if (input.kind === 'paid') {
      await step('request refund', () => saleor.refundOrder({ orderId, reason: `cancel:${orderId}`, note: by.reason }));
    }
    progress.currentStep = undefined;
    await setStatus('cancelled');
    return { orderId, status: 'cancelled', instanceIds: progress.instanceIds };
  }
}

function describe(err: unknown): StepError {
  const failure = err instanceof ActivityFailure && err.cause ? err.cause : err;
  if (failure instanceof ApplicationFailure) {
    return { type: failure.type ?? 'ApplicationFailure', message: failure.message, details: failure.details?.[0] };
  }
  return { type: (failure as Error)?.name ?? 'Error', message: (failure as Error)?.message ?? String(failure) };
}
