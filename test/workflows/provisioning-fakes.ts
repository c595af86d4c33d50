// Typed fakes of the provisioning activities: an object of the real factory's
// type, so a fake that drifts from createProvisioningActivities fails to
// compile. The state is a small in-memory model: one wallet (millicredits) and
// the calls made, so tests assert what a buyer and support would see.
import { ApplicationFailure } from '@temporalio/common';
import type { LoadedOrder, ProvisioningActivities, ResolvedLine } from '../../activities/provisioning';

export interface FakeWorld {
  walletMc: number;
  /** Activity name → the inputs it was called with, in order. */
  calls: Record<string, unknown[]>;
  refunds: { amountCents: number; reason: string }[];
  writeOffs: { line: number; amountMc: number; actor: string }[];
  takenBack: Map<number, number>;
  statuses: string[];
}

/** A paid order of a credit pack (1,000 credits for $10.00) and a Pro plan ($19.90). */
export const PAID_ORDER: LoadedOrder = {
  orderId: 'T3JkZXI6paid', email: 'buyer@cmp.local', orgId: 'org-1', userId: null, totalCents: 2990, currency: 'USD',
  lines: [
    { line: 0, variantId: 'pack', planId: null, quantity: 1, name: 'Starter 1k', totalCents: 1000 },
    { line: 1, variantId: 'pro', planId: null, quantity: 1, name: 'Ticket triage Pro', totalCents: 1990 },
  ],
};
export const PACK_MC = 1_000_000;

const RESOLVED: ResolvedLine[] = [
  { line: 0, kind: 'credit_pack', packId: 'pack', creditsMc: PACK_MC, quantity: 1 },
  { line: 1, kind: 'plan', offeringId: 'off-1', versionId: 'ver-1', planId: 'plan-pro', planCode: 'pro', quantity: 1 },
];

export const permanent = (message: string, type: string) => ApplicationFailure.nonRetryable(message, type);

export function provisioningFakes(overrides: Partial<ProvisioningActivities> = {}, order: LoadedOrder = PAID_ORDER) {
  const world: FakeWorld = { walletMc: 0, calls: {}, refunds: [], writeOffs: [], takenBack: new Map(), statuses: [] };
  let refunded = 0;
  const seen = (name: string, input: unknown) => (world.calls[name] ??= []).push(input);
  const fakes: ProvisioningActivities = {
    async loadOrder(input) { seen('loadOrder', input); return order; },
    async ensureWorkspace(input) { seen('ensureWorkspace', input); return { orgId: 'org-1', walletId: 'wallet-1' }; },
    async recordOrder(input) { seen('recordOrder', input); },
    async setOrderState(input) { world.statuses.push(input.status); },
    async resolveLines(input) { seen('resolveLines', input); return RESOLVED.filter((r) => input.lines.some((l) => l.line === r.line)); },
    async grantCredits(input) { seen('grantCredits', input); world.walletMc += input.creditsMc; return { transferId: `grant-${input.line}` }; },
    async voidCredits(input) {
      seen('voidCredits', input);
      if (world.takenBack.has(input.line)) return { transferId: `refund-${input.line}` };
      if (world.walletMc < input.creditsMc) throw permanent(`This needs ${input.creditsMc} millicredits; ${world.walletMc} are available`, 'insufficient-credits');
      world.walletMc -= input.creditsMc;
      world.takenBack.set(input.line, input.creditsMc);
      return { transferId: `refund-${input.line}` };
    },
    async readWalletAvailable(input) { seen('readWalletAvailable', input); return { availableMc: world.walletMc }; },
    async takeBackCredits(input) {
      seen('takeBackCredits', input);
      const done = world.takenBack.get(input.line);
      if (done !== undefined) return { takenBackMc: done };
      const amount = Math.min(input.creditsMc, world.walletMc);
      world.walletMc -= amount;
      world.takenBack.set(input.line, amount);
      return { takenBackMc: amount };
    },
    async writeOffCredits(input) { seen('writeOffCredits', input); world.writeOffs.push({ line: input.line, amountMc: input.amountMc, actor: input.actor }); return { transferId: `write-off-${input.line}` }; },
    async createInstance(input) { seen('createInstance', input); return { instanceId: input.instanceId }; },
    async deactivateInstance(input) { seen('deactivateInstance', input); },
    async readRefundableAmount(input) { seen('readRefundableAmount', input); return { dueCents: order.totalCents - refunded }; },
    async verifyArtifact(input) { seen('verifyArtifact', input); return { sha256: 'a'.repeat(64), bytes: 10 }; },
    async registerFlow(input) { seen('registerFlow', input); return { flowId: 'flow-1' }; },
    async writeInstanceSecrets(input) { seen('writeInstanceSecrets', input); return { path: `orgs/${input.orgId}/instances/${input.instanceId}/runtime`, version: 1 }; },
    async deleteInstanceSecrets(input) { seen('deleteInstanceSecrets', input); },
    async commitManifests(input) { seen('commitManifests', input); return { sha: 'c'.repeat(40), changed: true }; },
    async removeManifests(input) { seen('removeManifests', input); return { sha: 'd'.repeat(40), changed: true }; },
    async checkRuntimeReady(input) { seen('checkRuntimeReady', input); return true; },
    async activateInstance(input) { seen('activateInstance', input); },
    async markOrderFulfilled(input) { seen('markOrderFulfilled', input); },
    async refundOrder(input) {
      seen('refundOrder', input);
      // Nothing to refund at 0 (the order is only marked cancelled); Saleor's idempotency: the reason names the refund.
      if (input.amountCents > 0 && !world.refunds.some((r) => r.reason === input.reason)) {
        world.refunds.push({ amountCents: input.amountCents, reason: input.reason });
        refunded += input.amountCents;
      }
      return { refundedCents: input.amountCents };
    },
    async beginDeprovision(input) { seen('beginDeprovision', input); return { orgId: 'org-1', status: 'active' }; },
    ...overrides,
  };
  return { fakes, world };
}
