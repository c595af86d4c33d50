// The smaller provisioning workflows: unsubscribe (deprovision), catalog sync
// to Saleor, and the sweep that catches paid orders whose webhook was lost.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, startChild, upsertSearchAttributes } from '@temporalio/workflow';
import type { ProvisioningActivities } from '../../activities/provisioning';
import type { CatalogSyncActivities } from '../../activities/saleor/catalog-sync';
import type { SweepActivities } from '../../activities/saleor/sweep';
import { activityOptions } from '../retry-policies';
import { CmpInstanceId, CmpOrgId, CmpStatus } from '../shared/search-attributes';
import { orderWorkflowId } from '../../core/provisioning/contract';
import { purchaseToProvision } from './purchase-to-provision';

const db = proxyActivities<ProvisioningActivities>(activityOptions.database);
const vault = proxyActivities<ProvisioningActivities>(activityOptions.vault);
const git = proxyActivities<ProvisioningActivities>(activityOptions.git);
const saleor = proxyActivities<CatalogSyncActivities & SweepActivities>(activityOptions.saleor);
const sweepDb = proxyActivities<SweepActivities>(activityOptions.database);

/** Unsubscribe: the provisioning compensations, in order; the instance ends deprovisioned. */
export async function deprovisionInstance(input: { instanceId: string; secretsPath: string }): Promise<{ instanceId: string; status: 'deprovisioned' }> {
  upsertSearchAttributes([{ key: CmpInstanceId, value: input.instanceId }, { key: CmpStatus, value: 'deprovisioning' }]);
  const { orgId } = await db.beginDeprovision({ instanceId: input.instanceId });
  upsertSearchAttributes([{ key: CmpOrgId, value: orgId }]);
  // `deprovisioning` already stops new runs; the instance ends `deprovisioned` only once everything is undone.
  await git.removeManifests({ orderId: `deprovision-${input.instanceId}`, instances: [{ instanceId: input.instanceId, orgId }] });
  await vault.deleteInstanceSecrets({ path: input.secretsPath });
  await db.deactivateInstance({ instanceId: input.instanceId });
  upsertSearchAttributes([{ key: CmpStatus, value: 'deprovisioned' }]);
  return { instanceId: input.instanceId, status: 'deprovisioned' };
}

export async function syncCatalogToSaleor(input: { offeringId?: string }): Promise<{ variants: number }> {
  const plans = input.offeringId ? await saleor.syncOfferingToSaleor({ offeringId: input.offeringId }) : { variants: 0 };
  const packs = await saleor.syncCreditPacksToSaleor();
  return { variants: plans.variants + packs.variants };
}

/** Orders paid in Saleor in the last window that we never saw (a lost webhook) get their workflow. */
export async function sweepPaidOrders(input: { windowHours?: number } = {}): Promise<{ started: string[] }> {
  const missing = await sweepDb.findUnseenPaidOrders({ windowHours: input.windowHours ?? 48 });
  const started: string[] = [];
  for (const orderId of missing) {
    try {
      await startChild(purchaseToProvision, {
        // No task queue: the child inherits the sweep's own.
        workflowId: orderWorkflowId(orderId),
        args: [{ kind: 'paid', orderId }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      started.push(orderId);
    } catch (err) {
      // The webhook won the race: the order's workflow exists, which is all we wanted.
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  return { started };
}
