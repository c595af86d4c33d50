import { describe, expect, it, vi } from 'vitest';
import { createProvisioningActivities, type ProvisioningDeps } from '../../activities/provisioning';

// registerFlow against stand-in stores: what reaches the runtime (Langflow) per order.
function activitiesWith(flowRecheckMs?: number) {
  const ensureFlow = vi.fn(async () => ({ flowId: 'flow-1', outcome: 'unchanged' as const }));
  const updates: Record<string, unknown>[] = [];
  const deps = {
    instances: { setRuntimeFlow: async (instanceId: string, flowId: string) => void updates.push({ instance_id: instanceId, runtime_flow_id: flowId }) },
    catalog: {
      getVersion: async (id: string) => ({ id, offeringId: 'o1', artifactKey: 'flows/x.json', sha256: 'x', runtimeFlowName: null, version: '1.0.0' }),
      getById: async () => ({ slug: 'faq-answerer', name: 'FAQ answerer' }),
    },
    artifacts: { getVerified: async () => Buffer.from(JSON.stringify({ data: { nodes: [], edges: [] } })) },
    runtime: { ensureFlow },
    starterCreditsMc: 0,
    ...(flowRecheckMs === undefined ? {} : { flowRecheckMs }),
  } as unknown as ProvisioningDeps;
  return { activities: createProvisioningActivities(deps), ensureFlow, updates };
}

describe('registerFlow', () => {
  it('asks the runtime once for orders of the same version within the recheck window, and records the flow on each instance', async () => {
    const { activities, ensureFlow, updates } = activitiesWith();
    expect(await activities.registerFlow({ instanceId: 'i1', versionId: 'v1' })).toEqual({ flowId: 'flow-1' });
    expect(await activities.registerFlow({ instanceId: 'i2', versionId: 'v1' })).toEqual({ flowId: 'flow-1' });
    expect(ensureFlow).toHaveBeenCalledTimes(1);
    expect(ensureFlow).toHaveBeenCalledWith(expect.objectContaining({ name: 'cmp-faq-answerer-v1-0-0', endpointName: 'cmp-faq-answerer-v1-0-0' }));
    expect(updates.map((u) => u.runtime_flow_id)).toEqual(['flow-1', 'flow-1']);

    await activities.registerFlow({ instanceId: 'i3', versionId: 'v2' });
    expect(ensureFlow).toHaveBeenCalledTimes(2);
  });

  it('asks the runtime again once the window has passed', async () => {
    const { activities, ensureFlow } = activitiesWith(0);
    await activities.registerFlow({ instanceId: 'i1', versionId: 'v1' });
    await activities.registerFlow({ instanceId: 'i2', versionId: 'v1' });
    expect(ensureFlow).toHaveBeenCalledTimes(2);
  });
});
