// The runtime flow of a catalog version, for provisioning and for runs alike:
// the artifact read and sha256-checked, registered (or found unchanged) in the
// runtime under the version's flow name. A version's flow never changes, so
// each process remembers the answer (concurrent callers share one
// registration; a failure is forgotten) and asks the runtime again only after
// `recheckMs`.
import type { ArtifactStore } from '../artifacts';
import { runtimeFlowName } from '../catalog/publishing';
import type { CatalogStore } from '../catalog/store';
import type { AgentRuntime, FlowExport } from './agent-runtime';

export interface VersionFlow {
  flowId: string;
  flow: FlowExport;
}

export function createVersionFlows(deps: { catalog: CatalogStore; artifacts: ArtifactStore; runtime: AgentRuntime }, opts: { recheckMs: number }) {
  const known = new Map<string, { at: number; flow: Promise<VersionFlow> }>();

  async function register(versionId: string): Promise<VersionFlow> {
    const version = await deps.catalog.getVersion(versionId);
    const offering = await deps.catalog.getById(version.offeringId);
    const flow = JSON.parse((await deps.artifacts.getVerified(version.artifactKey, version.sha256)).toString('utf8')) as FlowExport;
    const name = version.runtimeFlowName ?? runtimeFlowName(offering.slug, version.version);
    const { flowId } = await deps.runtime.ensureFlow({ name, endpointName: name, flow, description: `${offering.name} ${version.version} (CMP)` });
    return { flowId, flow };
  }

  return function flowFor(versionId: string): Promise<VersionFlow> {
    const hit = known.get(versionId);
    if (hit && Date.now() - hit.at < opts.recheckMs) return hit.flow;
    const flow = register(versionId);
    known.set(versionId, { at: Date.now(), flow });
    flow.catch(() => {
      if (known.get(versionId)?.flow === flow) known.delete(versionId);
    });
    return flow;
  };
}
