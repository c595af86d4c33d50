// purchaseToProvision (`order-<orderId>`): from a paid Saleor order (or a free
// subscription) to active agent instances. Every external call is an activity
// with its own retry policy. A permanent failure does not vanish: the order
// shows "needs attention" with the failing step and its error, and waits for
// support to `retry` (the step again) or `cancelAndRefund` (compensations
// newest-first, then the refund). A compensation that fails is never followed
// by a full refund: the order parks again with what could and could not be
// taken back and what each answer would refund, and support decides
// (`decideRefund`: refund the unspent part, refund all with an audited credit
// adjustment, or keep it), or retries the failed compensations. Support's
// actions are Updates whose validators refuse what the workflow would ignore.
import {
  ApplicationFailure, condition, isCancellation, log, proxyActivities, proxyLocalActivities, setHandler, sleep,
  upsertSearchAttributes, uuid4, workflowInfo,
} from '@temporalio/workflow';
import type { ProvisioningActivities, ResolvedLine } from '../../activities/provisioning';
import { CmpInstanceId, CmpOrderId, CmpOrgId, CmpStatus } from '../shared/search-attributes';
import { activityOptions, localActivityOptions } from '../retry-policies';
import {
  cancelAndRefundUpdate, decideRefundUpdate, progressQuery, REFUND_DECISIONS, retryUpdate,
  type OrderInput, type OrderProgress, type OrderStatus, type RefundDecisionInput, type RefundOutcome, type StepError, type SupportAction,
  type UnwindLine, type UnwindReport,
} from '../../core/provisioning/contract';
import { decodeFailure } from '../failures';
import { unspentRefundMinor } from './refunds';

const saleor = proxyActivities<ProvisioningActivities>(activityOptions.saleor);
// Short steps run as local activities (see retry-policies.ts).
const saleorRead = proxyLocalActivities<ProvisioningActivities>(localActivityOptions.saleor);
const db = proxyLocalActivities<ProvisioningActivities>(localActivityOptions.database);
const s3 = proxyLocalActivities<ProvisioningActivities>(localActivityOptions.s3);
const runtime = proxyActivities<ProvisioningActivities>(activityOptions.runtime);
const probe = proxyLocalActivities<ProvisioningActivities>(localActivityOptions.runtime);
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

/** A credit pack line's grant: what its compensation gives back. */
interface CreditGrant {
  orderId: string;
  line: number;
  orgId: string;
  creditsMc: number;
}

/** An undo recorded right after its step succeeded, with the order lines it takes back. */
interface Compensation {
  name: string;
  lines: number[];
  undo: () => Promise<unknown>;
  grant?: CreditGrant;
  error?: StepError;
}

export async function purchaseToProvision(input: OrderInput): Promise<ProvisionResult> {
  if (!input?.orderId || !/^[\w:.=-]{1,200}$/.test(input.orderId)) {
    throw ApplicationFailure.nonRetryable('purchaseToProvision needs a valid orderId', 'InvalidInput');
  }
  const orderId = input.orderId;
  const progress: OrderProgress = { orderId, status: 'received', instanceIds: [], steps: [] };
  const compensations: Compensation[] = [];
  /** Each order line's total in minor units, for the refund arithmetic. */
  const lineTotals = new Map<number, number>();
  let currency = 'USD';
  /** Support's answers so far, and the last one: a parked step waits for the next answer. */
  let answered = 0;
  let answer: { action: 'retry' | 'cancel'; by: SupportAction } | undefined;
  /** Set by a cancel; steps stop at their next boundary and the order unwinds. */
  let cancelledBy: SupportAction | undefined;
  /** While compensating, a second cancel means "try the failed undo step again". */
  let unwinding = false;
  /** Support's refund decision, accepted only while the order waits for one. */
  let decision: RefundDecisionInput | undefined;
  // What support may do now. Changed synchronously where the workflow starts or stops waiting (never after an
  // await), so a validator never accepts an action the code has already moved past.
  /** Steps parked for support's answer (side-by-side steps may park together). */
  let parked = 0;
  /** The unwind waits for a refund decision; progress.unwind shows the report it applies to. */
  let awaitingDecision = false;
  /** Provisioning is over: a cancel no longer applies. */
  let settled = false;

  const refuse = (detail: string): never => {
    throw ApplicationFailure.nonRetryable(detail, 'NotPossibleNow');
  };
  setHandler(progressQuery, () => progress);
  setHandler(retryUpdate, (by) => {
    answer = { action: 'retry', by };
    answered++;
  }, {
    validator: (_by: SupportAction) => {
      if (parked === 0 && !awaitingDecision) refuse(`The order is ${progress.status}; no step waits for a retry`);
    },
  });
  setHandler(cancelAndRefundUpdate, (by) => {
    answer = { action: 'cancel', by };
    answered++;
    if (!unwinding) cancelledBy ??= by;
  }, {
    validator: (_by: SupportAction) => {
      if (awaitingDecision) refuse('The cancel waits for a refund decision: decide it, or retry the failed compensations');
      // While unwinding, a cancel answers a parked undo step as a retry does.
      if (unwinding && parked === 0) refuse(`The order is ${progress.status}: it is being cancelled`);
      if (!unwinding && (settled || cancelledBy)) refuse(`The order is ${settled ? 'fulfilled' : 'already being cancelled'}`);
    },
  });
  setHandler(decideRefundUpdate, (d) => {
    decision = d;
    return progress.unwind!;
  }, {
    validator: (d) => {
      if (!(REFUND_DECISIONS as readonly string[]).includes(d?.decision)) refuse(`Unknown refund decision ${String(d?.decision)}`);
      if (decision) refuse(`The refund was already decided (${decision.decision} by ${decision.actor})`);
      if (!awaitingDecision) refuse(`The order is ${progress.status} and waits for no refund decision`);
    },
  });

  class Cancelled extends Error {}

  // The database first, then the live view: whoever reads the query also finds the row updated.
  // The unwind report changes with the status, so the query never shows a decision form beside another status.
  const setStatus = async (status: OrderStatus, error?: StepError & { step: string }, unwind?: UnwindReport) => {
    await db.setOrderState({ orderId, status, step: error?.step ?? progress.currentStep ?? null, error: error ?? null });
    progress.status = status;
    progress.lastError = error;
    progress.unwind = unwind;
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
        parked++;
        await condition(() => answered > seen);
        parked--;
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
    currency = order.currency;
    for (const l of order.lines) lineTotals.set(l.line, l.totalCents);
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
        const grant: CreditGrant = { orderId, line: line.line, orgId: workspace.orgId, creditsMc: line.creditsMc * line.quantity };
        await step(`grant credits (line ${line.line})`, () => db.grantCredits(grant));
        compensations.push({ name: `void credits (line ${line.line})`, lines: [line.line], grant, undo: () => db.voidCredits(grant) });
        continue;
      }
      // The free path names its instance up front so the store can show it at once.
      const instanceId = input.kind === 'free' ? input.instanceId : uuid4();
      const created = await step(`create instance (line ${line.line})`, () =>
        db.createInstance({ instanceId, orderId, line: line.line, orgId: workspace.orgId, offeringId: line.offeringId, versionId: line.versionId, planId: line.planId, workflowId: workflowInfo().workflowId }),
      );
      if (!progress.instanceIds.includes(created.instanceId)) progress.instanceIds.push(created.instanceId);
      upsertSearchAttributes([{ key: CmpInstanceId, value: created.instanceId }]);
      compensations.push({ name: 'deactivate instance', lines: [line.line], undo: () => db.deactivateInstance({ instanceId: created.instanceId }) });

      // The flow (checked, then registered) and the instance's secrets do not depend on each other.
      await together(
        (async () => {
          await step('verify flow artifact', () => s3.verifyArtifact({ versionId: line.versionId }));
          await step('register flow', () => runtime.registerFlow({ instanceId: created.instanceId, versionId: line.versionId }));
        })(),
        step('write secrets', () => vault.writeInstanceSecrets({ orgId: workspace.orgId, instanceId: created.instanceId })).then((secrets) => {
          compensations.push({ name: 'delete secrets', lines: [line.line], undo: () => vault.deleteInstanceSecrets({ path: secrets.path }) });
        }),
      );
      manifests.push({ instanceId: created.instanceId, orgId: workspace.orgId, versionId: line.versionId, planId: line.planId });
      toActivate.push({ instanceId: created.instanceId, line });
    }

    // The GitOps commit and the runtime's readiness are independent too; activation needs both.
    await together(
      manifests.length
        ? step('commit manifests', () => git.commitManifests({ orderId, instances: manifests })).then(() => {
          compensations.push({ name: 'remove manifests', lines: toActivate.map((a) => a.line.line), undo: () => git.removeManifests({ orderId, instances: manifests }) });
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
    // A cancel accepted while the last step ran still applies; from here on none is accepted.
    if (cancelledBy) throw new Cancelled();
    settled = true;
    progress.currentStep = undefined;
    await setStatus('fulfilled');
    return { orderId, status: 'fulfilled', instanceIds: progress.instanceIds };
  } catch (err) {
    if (!(err instanceof Cancelled)) throw err;
    return await cancelOrder(cancelledBy!);
  }

  /** Runs each undo once, newest-first; returns the ones that failed, each with its error. */
  async function compensate(list: Compensation[]): Promise<Compensation[]> {
    const failed: Compensation[] = [];
    for (const c of list) {
      const record = { name: c.name, status: 'running' as const, attempts: 1, startedAt: new Date().toISOString() };
      progress.steps.push(record);
      progress.currentStep = c.name;
      try {
        await c.undo();
        c.error = undefined;
        Object.assign(record, { status: 'compensated', finishedAt: new Date().toISOString() });
      } catch (err) {
        if (isCancellation(err)) throw err;
        c.error = describe(err);
        Object.assign(record, { status: 'failed', error: c.error, finishedAt: new Date().toISOString() });
        log.error('compensation failed; the order waits for a refund decision', { compensation: c.name, error: c.error.message });
        failed.push(c);
      }
    }
    return failed;
  }

  /** What could and could not be taken back, and what each decision would refund now. */
  async function assess(failed: Compensation[]): Promise<UnwindReport> {
    const failedLines = new Set(failed.flatMap((c) => c.lines));
    // The wallet gives back at most what it holds: spread it over the failed grants, newest first, as the undo ran.
    let available = failed.some((c) => c.grant) && progress.orgId ? (await db.readWalletAvailable({ orgId: progress.orgId })).availableMc : 0;
    const lines: UnwindLine[] = [...lineTotals.entries()].sort(([a], [b]) => a - b).map(([line, total]) => {
      const grant = compensations.find((c) => c.grant?.line === line)?.grant;
      if (!grant) return { line, kind: 'plan' as const, totalMinor: total, takenBack: !failedLines.has(line) };
      return { line, kind: 'credit_pack' as const, totalMinor: total, grantedMc: grant.creditsMc, unspentMc: grant.creditsMc, takenBack: !failedLines.has(line) };
    });
    for (const c of failed) {
      const l = c.grant && lines.find((x) => x.line === c.grant!.line);
      if (!l) continue;
      l.unspentMc = Math.min(c.grant!.creditsMc, Math.max(0, available));
      available -= l.unspentMc;
    }
    const due = await dueMinor();
    return {
      currency, totalMinor: due, lines,
      failed: failed.map((c) => ({ compensation: c.name, lines: c.lines, error: c.error! })),
      takenBack: compensations.filter((c) => !failed.includes(c)).map((c) => c.name),
      refundUnspentMinor: unspentRefundMinor(lines, due),
      refundAllMinor: due,
    };
  }

  /** What Saleor can still refund: the order's total less what was refunded before (a free order: nothing). */
  async function dueMinor(): Promise<number> {
    return input.kind === 'paid' ? (await saleorRead.readRefundableAmount({ orderId })).dueCents : 0;
  }

  /**
   * The saga's unwind: compensations newest-first; a full refund only when every one of them succeeded, else
   * support decides. No patched() guard for this unwind (nor for the refund decision): no order was ever in
   * flight in production (issue #16), so no history replays the older code.
   */
  async function cancelOrder(by: SupportAction): Promise<ProvisionResult> {
    // The cancel request is being served; a failing refund parks the order again for support.
    unwinding = true;
    await setStatus('cancelling');
    let failed = await compensate([...compensations].reverse());
    let report: UnwindReport | undefined;
    while (failed.length > 0) {
      report = await assess(failed);
      const seen = answered;
      const first = failed[0]!;
      await setStatus('needs_attention', {
        step: first.name, type: 'CompensationFailed',
        message: `${failed.map((c) => c.name).join(', ')} failed (${first.error!.message}); support decides the refund`,
      }, report);
      awaitingDecision = true;
      // While it waits, only a decision or a retry is accepted (the validators refuse a cancel).
      await condition(() => decision !== undefined || answered > seen);
      awaitingDecision = false;
      if (decision) break;
      // Retry: the failed compensations again, newest-first as before.
      await setStatus('cancelling');
      failed = await compensate(failed);
    }
    const outcome = failed.length === 0 ? await refund('full', by, null, 0, 0) : await decide(decision!, failed, report!);
    progress.refund = outcome;
    progress.currentStep = undefined;
    await setStatus('cancelled');
    return { orderId, status: 'cancelled', instanceIds: progress.instanceIds };
  }

  /** Carries out support's decision for the compensations that failed. */
  async function decide(d: RefundDecisionInput, failed: Compensation[], report: UnwindReport): Promise<RefundOutcome> {
    log.info('support decided the refund', { decision: d.decision, by: d.actor });
    await setStatus('cancelling');
    // Keep: nothing refunded, but Saleor still learns that the order was cancelled.
    if (d.decision === 'keep') return refund('keep', d, 0, 0, 0);
    // Take back what the wallet still holds of each failed grant (at most the grant; the wallet never goes below zero).
    const taken = new Map<number, number>();
    let writtenOff = 0;
    for (const c of failed) {
      if (!c.grant) continue;
      const grant = c.grant;
      const { takenBackMc } = await step(`take back unspent credits (line ${grant.line})`, () => db.takeBackCredits(grant));
      taken.set(grant.line, takenBackMc);
      const spent = grant.creditsMc - takenBackMc;
      if (d.decision === 'refund_all' && spent > 0) {
        await step(`write off spent credits (line ${grant.line})`, () =>
          db.writeOffCredits({ orderId, line: grant.line, orgId: grant.orgId, amountMc: spent, actor: d.actor, note: d.reason }),
        );
        writtenOff += spent;
      }
    }
    const amount = d.decision === 'refund_all'
      ? null
      : unspentRefundMinor(report.lines.map((l) => ({ ...l, takenBackMc: taken.get(l.line) ?? 0 })), await dueMinor());
    return refund(d.decision, d, amount, [...taken.values()].reduce((a, b) => a + b, 0), writtenOff);
  }

  /**
   * Tells Saleor the order is cancelled and refunds `amountMinor` (null: what is still due, read once here, so a
   * retried activity refunds the same figure). Keyed by the decision, so a retry refunds once.
   */
  async function refund(kind: RefundOutcome['decision'], by: SupportAction, amountMinor: number | null, takenBackMc: number, writtenOffMc: number): Promise<RefundOutcome> {
    let refunded = 0;
    if (input.kind === 'paid') {
      const amountCents = amountMinor ?? await dueMinor();
      const reason = kind === 'full' ? `cancel:${orderId}` : `cancel:${orderId}:${kind}`;
      const r = await step(amountCents > 0 ? 'request refund' : 'mark order cancelled in Saleor', () =>
        saleor.refundOrder({ orderId, reason, note: by.reason, amountCents }),
      );
      refunded = r.refundedCents;
    }
    const credits = kind === 'full' ? compensations.reduce((n, c) => n + (c.grant?.creditsMc ?? 0), 0) : takenBackMc;
    return { decision: kind, by: by.actor, refundedMinor: refunded, creditsTakenBackMc: credits, creditsWrittenOffMc: writtenOffMc };
  }
}

/** The step's error as support sees it. */
function describe(err: unknown): StepError {
  const { type, message, details } = decodeFailure(err);
  return details === undefined ? { type, message } : { type, message, details };
}
