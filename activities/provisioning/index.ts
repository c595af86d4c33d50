// Activities of purchaseToProvision and deprovisioning: thin functions over
// injected clients (Saleor, the stores and ledger, S3, Langflow, Vault, GitOps).
// Every one is idempotent, because Temporal may run it again after a crash.
import { randomBytes } from 'node:crypto';
import { recordOrderActivated } from '../../core/metrics/business';
import type { ArtifactStore } from '../../core/artifacts';
import type { ApiKeyStore } from '../../core/api-keys/store';
import type { AuditLog } from '../../core/audit';
import { InsufficientCreditsError } from '../../core/errors';
import type { CatalogStore } from '../../core/catalog/store';
import type { UserStore } from '../../core/identity/user-store';
import { instanceManifest, instanceManifestPath, type GitOpsRepo } from '../../core/gitops';
import type { InstanceStore } from '../../core/instances/store';
import type { OrderStore } from '../../core/orders/store';
import type { Ledger } from '../../core/ledger';
import type { AgentRuntime } from '../../core/runtime/agent-runtime';
import { createVersionFlows } from '../../core/runtime/version-flows';
import type { SaleorClient } from '../../core/saleor/client';
import { PAID_CHARGE_STATUSES, SALEOR_METADATA_KEYS } from '../../core/saleor/contract';
import { allowancePeriod, grantAllowances } from '../../core/instances/allowances';
import { instanceSecretPath, type SecretStore } from '../../core/secrets';
import { onboardWorkspace } from '../../core/tenancy/onboarding';
import type { TenancyStore } from '../../core/tenancy/store';
import { classifyFailures, OrderRejectedError } from '../failures';
import type { OrderInput, OrderStatus, StepError } from '../../core/provisioning/contract';

export interface ProvisioningDeps {
  orders: OrderStore;
  users: Pick<UserStore, 'findByEmail'>;
  apiKeys: Pick<ApiKeyStore, 'revokeForInstance'>;
  audit: AuditLog;
  catalog: CatalogStore;
  instances: InstanceStore;
  tenancy: TenancyStore;
  ledger: Ledger;
  saleor: SaleorClient;
  artifacts: ArtifactStore;
  runtime: AgentRuntime;
  secrets: SecretStore;
  gitops: GitOpsRepo;
  starterCreditsMc: number;
  /** How long a flow this worker registered is trusted before Langflow is asked again (default a minute). */
  flowRecheckMs?: number;
}

export interface LoadedOrder {
  orderId: string;
  email: string | null;
  orgId: string | null;
  userId: string | null;
  totalCents: number;
  currency: string;
  /** With each line's total in the currency's minor units, for a refund of part of the order. */
  lines: { line: number; variantId: string | null; planId: string | null; quantity: number; name: string; totalCents: number }[];
}

export type ResolvedLine =
  | { line: number; kind: 'plan'; offeringId: string; versionId: string; planId: string; planCode: string; quantity: number }
  | { line: number; kind: 'credit_pack'; packId: string; creditsMc: number; quantity: number };

export interface ManifestInstance {
  instanceId: string;
  orgId: string;
  versionId: string;
  planId: string;
}

export const creditGrantId = (orderId: string, line: number) => `order:${orderId}:line:${line}`;
/** The one transfer that gives a line's credits back, in whole (a compensation) or in part (support's decision). */
const creditTakeBackId = (orderId: string, line: number) => `refund:${creditGrantId(orderId, line)}`;
/** Spent credits of a line refunded in full anyway, booked to the adjustments account. */
const creditWriteOffId = (orderId: string, line: number) => `write-off:${creditGrantId(orderId, line)}`;

export function createProvisioningActivities(deps: ProvisioningDeps) {
  const { orders, catalog, instances, ledger, saleor, audit } = deps;
  // Every instance of a version shares its flow: once registered (or found unchanged) here, it is reused for a
  // while instead of listing and reading Langflow's flows for every order.
  const flowFor = createVersionFlows(deps, { recheckMs: deps.flowRecheckMs ?? 60_000 });

  async function loadOrder(input: OrderInput): Promise<LoadedOrder> {
    if (input.kind === 'free') {
      return {
        orderId: input.orderId, email: null, orgId: input.orgId, userId: input.userId, totalCents: 0, currency: 'USD',
        lines: [{ line: 0, variantId: null, planId: input.planId, quantity: 1, name: 'free plan', totalCents: 0 }],
      };
    }
    const order = await saleor.getOrder(input.orderId);
    if (!order.isPaid && !(PAID_CHARGE_STATUSES as readonly string[]).includes(order.chargeStatus)) {
      throw new OrderRejectedError(`Order ${input.orderId} is not paid (charge status ${order.chargeStatus})`);
    }
    return {
      orderId: order.id, email: order.userEmail, orgId: order.metadata[SALEOR_METADATA_KEYS.orgId] ?? null, userId: null, totalCents: order.totalCents, currency: order.currency,
      lines: order.lines.map((l, i) => ({ line: i, variantId: l.variantId, planId: null, quantity: l.quantity, name: l.productName, totalCents: l.totalCents })),
    };
  }

  /** The buyer's workspace: the org named in the checkout's metadata, else the one of the user with that email. */
  async function ensureWorkspace(input: { orderId: string; email: string | null; orgId: string | null; userId: string | null }): Promise<{ orgId: string; walletId: string }> {
    let orgId = input.orgId;
    if (orgId) await deps.tenancy.getOrg(orgId).catch(() => {
      throw new OrderRejectedError(`Order ${input.orderId} names organization ${orgId}, which does not exist`);
    });
    if (!orgId && input.email) {
      const user = await deps.users.findByEmail(input.email);
      if (!user) throw new OrderRejectedError(`No CMP user has the order's email ${input.email}; the buyer must sign in once`);
      orgId = (await onboardWorkspace(deps, user)).org.id;
    }
    if (!orgId) throw new OrderRejectedError(`Order ${input.orderId} has neither an organization nor an email`);
    const wallet = await ledger.ensureWallet(orgId);
    return { orgId, walletId: wallet.id };
  }

  async function recordOrder(input: { orderId: string; kind: 'paid' | 'free'; orgId: string; email: string | null; workflowId: string; totalCents: number; currency: string }): Promise<void> {
    await orders.record(input);
  }

  async function setOrderState(input: { orderId: string; status: OrderStatus; step: string | null; error: (StepError & { step: string }) | null }): Promise<void> {
    const { paidAt } = await orders.setState(input);
    if (input.status === 'fulfilled') recordOrderActivated(paidAt);
    if (input.status === 'needs_attention' || input.status === 'provisioning') await instances.followOrder(input.orderId, input.status, input.error);
  }

  async function resolveLines(order: LoadedOrder): Promise<ResolvedLine[]> {
    const resolved: ResolvedLine[] = [];
    for (const l of order.lines) {
      const plan = l.planId ? await catalog.getPlan(l.planId) : l.variantId ? await catalog.findPlanByVariant(l.variantId) : null;
      if (plan) {
        const version = await catalog.latestPublishedVersion(plan.offeringId);
        if (!version) throw new OrderRejectedError(`The agent of plan ${plan.code} has no published version`, { line: l.line });
        resolved.push({ line: l.line, kind: 'plan', offeringId: plan.offeringId, versionId: version.id, planId: plan.id, planCode: plan.code, quantity: l.quantity });
        continue;
      }
      const pack = l.variantId ? await catalog.findCreditPackByVariant(l.variantId) : null;
      if (pack) {
        resolved.push({ line: l.line, kind: 'credit_pack', packId: pack.id, creditsMc: pack.creditsMc, quantity: l.quantity });
        continue;
      }
      throw new OrderRejectedError(`Order line ${l.line} (${l.name}) has variant ${l.variantId ?? 'none'}, which the catalog does not sell`, { line: l.line, variantId: l.variantId });
    }
    return resolved;
  }

  async function grantCredits(input: { orderId: string; line: number; orgId: string; creditsMc: number }): Promise<{ transferId: string }> {
    const [purchases, wallet] = await Promise.all([ledger.ensureSystemAccount('purchases'), ledger.ensureWallet(input.orgId)]);
    const t = await ledger.transfer({
      id: creditGrantId(input.orderId, input.line), debitAccountId: purchases.id, creditAccountId: wallet.id, amount: input.creditsMc,
      reason: 'credit_pack', orderId: input.orderId,
    });
    return { transferId: t.id };
  }

  /** Takes granted credits back (cancel and refund); fails while they are spent, and says so. */
  async function voidCredits(input: { orderId: string; line: number; orgId: string; creditsMc: number }): Promise<{ transferId: string }> {
    const [purchases, wallet] = await Promise.all([ledger.ensureSystemAccount('purchases'), ledger.ensureWallet(input.orgId)]);
    const t = await ledger.transfer({
      id: creditTakeBackId(input.orderId, input.line), debitAccountId: wallet.id, creditAccountId: purchases.id, amount: input.creditsMc,
      reason: 'refund', orderId: input.orderId,
    });
    return { transferId: t.id };
  }

  /** What the org's wallet can give now (posted credits less debits and open holds). */
  async function readWalletAvailable(input: { orgId: string }): Promise<{ availableMc: number }> {
    const wallet = await ledger.ensureWallet(input.orgId);
    return { availableMc: (await ledger.balance(wallet.id)).available };
  }

  /**
   * Takes back as much of a line's grant as the wallet still holds (the unspent credits), never below zero.
   * The same transfer id as the whole void: a line's credits are given back once, whichever way, and a retry
   * returns what the first attempt took.
   */
  async function takeBackCredits(input: { orderId: string; line: number; orgId: string; creditsMc: number }): Promise<{ takenBackMc: number }> {
    const id = creditTakeBackId(input.orderId, input.line);
    const done = await ledger.getTransfer(id);
    if (done) return { takenBackMc: done.amount };
    const [purchases, wallet] = await Promise.all([ledger.ensureSystemAccount('purchases'), ledger.ensureWallet(input.orgId)]);
    for (;;) {
      const amount = Math.min(input.creditsMc, Math.max(0, (await ledger.balance(wallet.id)).available));
      if (amount === 0) return { takenBackMc: 0 };
      try {
        const t = await ledger.transfer({
          id, debitAccountId: wallet.id, creditAccountId: purchases.id, amount, reason: 'refund', orderId: input.orderId,
          metadata: { grantedMc: input.creditsMc, unspent: true },
        });
        return { takenBackMc: t.amount };
      } catch (err) {
        // Spent between the read and the transfer: read again and take what is left.
        if (!(err instanceof InsufficientCreditsError)) throw err;
      }
    }
  }

  /**
   * Support refunded a line whose credits were partly spent: the spent part is booked from the adjustments
   * account to purchases (so purchases balances against the full refund), named by the line and audited.
   * A retry transfers again (the ledger replays a same-id transfer with the same parameters) and audits
   * again: after a crash between the two, a second audit row beats a missing one.
   */
  async function writeOffCredits(input: { orderId: string; line: number; orgId: string; amountMc: number; actor: string; note: string }): Promise<{ transferId: string }> {
    const id = creditWriteOffId(input.orderId, input.line);
    const [adjustments, purchases] = await Promise.all([ledger.ensureSystemAccount('adjustments'), ledger.ensureSystemAccount('purchases')]);
    const t = await ledger.transfer({
      id, debitAccountId: adjustments.id, creditAccountId: purchases.id, amount: input.amountMc, reason: 'adjustment', orderId: input.orderId,
      metadata: { by: input.actor, note: input.note, spentCreditsRefunded: true },
    });
    await audit.record({
      orgId: input.orgId, actor: input.actor, action: 'ledger.write_off', targetType: 'order', targetId: input.orderId, reason: input.note,
      data: { line: input.line, amount_mc: input.amountMc, transfer_id: t.id },
    });
    return { transferId: t.id };
  }

  async function createInstance(input: { instanceId: string; orderId: string; line: number; orgId: string; offeringId: string; versionId: string; planId: string; workflowId: string }): Promise<{ instanceId: string }> {
    return { instanceId: await instances.create(input) };
  }

  async function deactivateInstance(input: { instanceId: string }): Promise<void> {
    await instances.markDeprovisioned(input.instanceId);
    await deps.apiKeys.revokeForInstance(input.instanceId);
  }

  async function verifyArtifact(input: { versionId: string }): Promise<{ sha256: string; bytes: number }> {
    const version = await catalog.getVersion(input.versionId);
    const bytes = await deps.artifacts.getVerified(version.artifactKey, version.sha256);
    return { sha256: version.sha256, bytes: bytes.length };
  }

  async function registerFlow(input: { instanceId: string; versionId: string }): Promise<{ flowId: string }> {
    const { flowId } = await flowFor(input.versionId);
    await instances.setRuntimeFlow(input.instanceId, flowId);
    return { flowId };
  }

  async function writeInstanceSecrets(input: { orgId: string; instanceId: string }): Promise<{ path: string; version: number }> {
    const path = instanceSecretPath(input.orgId, input.instanceId, 'runtime');
    // Written once: a re-run keeps the first token instead of rotating it.
    const existing = await deps.secrets.read(path);
    if (existing) return { path, version: existing.version };
    const written = await deps.secrets.write(path, { instance_token: randomBytes(32).toString('base64url'), org_id: input.orgId }, { cas: 0 }).catch(async (err) => {
      const again = await deps.secrets.read(path);
      if (again) return { version: again.version };
      throw err;
    });
    return { path, version: written.version };
  }

  async function deleteInstanceSecrets(input: { path: string }): Promise<void> {
    await deps.secrets.delete(input.path);
  }

  async function manifestsFor(list: ManifestInstance[]) {
    return Promise.all(
      list.map(async (m) => {
        const instance = await instances.getAny(m.instanceId);
        const version = await catalog.getVersion(m.versionId);
        const plan = await catalog.getPlan(m.planId);
        return instanceManifest({
          orgId: m.orgId, instanceId: m.instanceId, offeringSlug: instance.offeringSlug, version: version.version, plan: plan.code,
          runtimeFlowId: instance.runtimeFlowId ?? 'pending', secretsPath: instanceSecretPath(m.orgId, m.instanceId, 'runtime'),
        });
      }),
    );
  }

  async function commitManifests(input: { orderId: string; instances: ManifestInstance[] }): Promise<{ sha: string; changed: boolean }> {
    const manifests = await manifestsFor(input.instances);
    const result = await deps.gitops.commitFiles({
      message: `Provision order ${input.orderId}: ${manifests.length} instance(s)`,
      files: Object.fromEntries(manifests.map((m) => [m.path, m.content])),
    });
    await instances.setGitopsCommit(input.instances.map((i) => i.instanceId), result.sha);
    return result;
  }

  async function removeManifests(input: { orderId: string; instances: Pick<ManifestInstance, 'instanceId' | 'orgId'>[] }): Promise<{ sha: string; changed: boolean }> {
    return deps.gitops.commitFiles({
      message: `Remove instances of order ${input.orderId}`,
      files: Object.fromEntries(input.instances.map((i) => [instanceManifestPath(i.orgId, i.instanceId), null])),
    });
  }

  /** True once the runtime is healthy and knows the instance's flow. */
  async function checkRuntimeReady(input: { instanceId: string }): Promise<boolean> {
    const instance = await instances.getAny(input.instanceId);
    if (!instance.runtimeFlowId) return false;
    const health = await deps.runtime.health({ timeoutMs: 3000 }).catch(() => ({ ok: false }));
    return health.ok;
  }

  /** Active, with the plan's first monthly allowance granted once. */
  async function activateInstance(input: { instanceId: string }): Promise<void> {
    const instance = await instances.getAny(input.instanceId);
    const plan = await catalog.getPlan(instance.planId);
    if (plan.monthlyCreditsMc > 0) {
      const due = { instanceId: instance.id, orgId: instance.orgId, orderId: instance.orderId, planCode: plan.code, amountMc: plan.monthlyCreditsMc };
      await grantAllowances(ledger, [due], allowancePeriod(new Date()));
    }
    await instances.activate(input.instanceId);
  }

  async function markOrderFulfilled(input: { orderId: string }): Promise<void> {
    const order = await saleor.getOrder(input.orderId);
    if (order.status !== 'FULFILLED') {
      await saleor.markFulfilled(input.orderId, order.lines.filter((l) => l.quantity > l.quantityFulfilled).map((l) => ({ orderLineId: l.id, quantity: l.quantity - l.quantityFulfilled })));
    }
    await saleor.writeOrderMetadata(input.orderId, { [SALEOR_METADATA_KEYS.status]: 'fulfilled' });
  }

  /** What Saleor can still refund of the order. */
  async function readRefundableAmount(input: { orderId: string }): Promise<{ dueCents: number }> {
    const order = await saleor.getOrder(input.orderId);
    return { dueCents: Math.max(0, order.totalCents - order.refundedCents) };
  }

  /**
   * Marks the order cancelled in Saleor and refunds `amountCents` (minor units; 0 refunds nothing). The
   * workflow fixes the amount before the first attempt, so a retry reports the same figure; `reason` is
   * Saleor's idempotency key: a retry finds the refund it granted.
   */
  async function refundOrder(input: { orderId: string; reason: string; note: string; amountCents: number }): Promise<{ refundedCents: number }> {
    const amount = Math.max(0, input.amountCents);
    if (amount > 0) await saleor.requestRefund(input.orderId, amount, input.reason);
    await saleor.writeOrderMetadata(input.orderId, { [SALEOR_METADATA_KEYS.status]: 'cancelled', cmp_cancel_note: input.note.slice(0, 200) });
    return { refundedCents: amount };
  }

  /** Deprovisioning: the instance's side effects undone, in order. */
  async function beginDeprovision(input: { instanceId: string }): Promise<{ orgId: string; status: string }> {
    const instance = await instances.getAny(input.instanceId);
    if (instance.status !== 'deprovisioned') await instances.beginDeprovision(input.instanceId);
    return { orgId: instance.orgId, status: instance.status };
  }

  return classifyFailures({
    loadOrder, ensureWorkspace, recordOrder, setOrderState, resolveLines, grantCredits, voidCredits, readWalletAvailable, takeBackCredits,
    writeOffCredits, createInstance, deactivateInstance, readRefundableAmount,
    verifyArtifact, registerFlow, writeInstanceSecrets, deleteInstanceSecrets, commitManifests, removeManifests, checkRuntimeReady,
    activateInstance, markOrderFulfilled, refundOrder, beginDeprovision,
  });
}

export type ProvisioningActivities = ReturnType<typeof createProvisioningActivities>;
