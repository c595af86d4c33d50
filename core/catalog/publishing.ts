// Adding a version of an offering: the uploaded Langflow flow is validated as
// a flow, stored in S3 under its sha256, and the hash is recorded in the
// catalog, where provisioning and every run check it again.
import { validation } from '../errors';
import type { CatalogStore, OfferingVersion } from './store';

export interface FlowArtifacts {
  put(bytes: Buffer): Promise<{ key: string; sha256: string }>;
}

/** The name (and endpoint) a version's flow is registered under in the runtime. */
export const runtimeFlowName = (offeringSlug: string, version: string) => `cmp-${offeringSlug}-v${version.replace(/[^0-9A-Za-z]/g, '-')}`;

/** Returns the problems of a would-be Langflow flow export; empty when it is one. */
export type FlowValidator = (flow: unknown) => string[];

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$/;

export async function addVersionFromFlow(
  deps: { catalog: CatalogStore; artifacts: FlowArtifacts; validateFlow: FlowValidator },
  input: { offeringId: string; version: string; changelog: string; flow: unknown },
): Promise<OfferingVersion> {
  if (!SEMVER.test(input.version)) throw validation('version must be semver (e.g. 1.2.0)', [{ path: 'version', message: 'not semver' }]);
  const problems = deps.validateFlow(input.flow);
  if (problems.length) throw validation('The flow is not a valid Langflow flow export', problems.map((message) => ({ path: 'flow', message })));
  const offering = await deps.catalog.getById(input.offeringId);
  // Stored byte-for-byte as serialised here; the hash covers exactly these bytes.
  const bytes = Buffer.from(JSON.stringify(input.flow));
  const { key, sha256 } = await deps.artifacts.put(bytes);
  return deps.catalog.addVersion({
    offeringId: offering.id,
    version: input.version,
    changelog: input.changelog,
    artifactKey: key,
    sha256,
    runtimeFlowName: runtimeFlowName(offering.slug, input.version),
  });
}
