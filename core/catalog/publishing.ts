// Adding a version of an offering: the uploaded Langflow flow is validated as
// a flow, stored in S3 under its sha256, and the hash is recorded in the
// catalog, where provisioning and every run check it again.
import { ArtifactIntegrityError, ArtifactNotFoundError, sha256Hex } from '../artifacts/artifact-store';
import { componentProblems } from '../artifacts/allowed-components';
import { AppError, validation } from '../errors';
import type { FlowExport } from '../runtime/agent-runtime';
import { CHECK } from './contract';
import type { CatalogStore, OfferingVersion } from './store';

export interface FlowArtifacts {
  put(bytes: Buffer): Promise<{ key: string; sha256: string }>;
  getVerified(key: string, expectedSha256: string, opts?: { fromStore?: boolean }): Promise<Buffer>;
}

/** What an uploaded flow export must respect (from the config). */
export interface FlowPolicy {
  maxBytes: number;
  allowedComponents: ReadonlySet<string>;
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

const kib = (n: number) => `${Math.ceil(n / 1024)} KiB`;

/**
 * A version from a file a publisher uploaded: the exact bytes are what is hashed, checked and stored, so the
 * sha256 the browser computed, the one recorded and the S3 object's all agree. A `claimedSha256` that does not
 * match the bytes means they changed on the way (a tampered or truncated upload): refused before anything is stored.
 */
export async function addVersionFromUpload(
  deps: { catalog: CatalogStore; artifacts: FlowArtifacts; validateFlow: FlowValidator; policy: FlowPolicy },
  input: { offeringId: string; version: string; changelog: string; flowJson: string; claimedSha256?: string },
): Promise<OfferingVersion> {
  const bytes = Buffer.from(input.flowJson, 'utf8');
  const sha256 = sha256Hex(bytes);
  if (input.claimedSha256 && input.claimedSha256.toLowerCase() !== sha256) {
    throw new AppError('upload-hash-mismatch', 'Upload does not match its sha256',
      `The uploaded file hashes to ${sha256}, not to ${input.claimedSha256.toLowerCase()} as its sender computed: it changed on the way. Upload it again.`,
      { expected_sha256: input.claimedSha256.toLowerCase(), actual_sha256: sha256 });
  }
  if (!SEMVER.test(input.version)) throw validation('version must be semver (e.g. 1.2.0)', [{ path: 'version', message: 'not semver' }]);
  if (bytes.length > deps.policy.maxBytes) {
    throw validation('The flow export is too large', [{ path: 'flow_json', message: `The file is ${kib(bytes.length)}; the limit is ${kib(deps.policy.maxBytes)}.` }]);
  }
  let flow: unknown;
  try {
    flow = JSON.parse(input.flowJson);
  } catch (err) {
    throw validation('The file is not JSON', [{ path: 'flow_json', message: `The file is not valid JSON: ${(err as Error).message}` }]);
  }
  const shape = deps.validateFlow(flow);
  const problems = shape.length ? shape : componentProblems(flow as FlowExport, deps.policy.allowedComponents);
  if (problems.length) throw validation('The flow cannot be published as it is', problems.map((message) => ({ path: 'flow_json', message })));
  const offering = await deps.catalog.getById(input.offeringId);
  const nodes = (flow as FlowExport).data.nodes.filter((n) => n.type !== 'noteNode');
  const stored = await deps.artifacts.put(bytes);
  return deps.catalog.addVersion({
    offeringId: offering.id, version: input.version, changelog: input.changelog, artifactKey: stored.key, sha256: stored.sha256,
    runtimeFlowName: runtimeFlowName(offering.slug, input.version), sizeBytes: bytes.length, checksStatus: 'pending',
    checks: [{
      name: CHECK.validation, status: 'passed', durationMs: 0,
      detail: `${kib(bytes.length)}, ${nodes.length} components, all allowed: ${[...new Set(nodes.map((n) => n.data.type))].join(', ')}`,
    }],
  });
}

/**
 * Publishing gate: a version is published only after every check passed, and only while the artifact S3 holds
 * still hashes to the recorded sha256 (read from the store itself, not from a cache). Already published: a no-op.
 */
export async function assertPublishable(deps: { artifacts: FlowArtifacts }, version: OfferingVersion): Promise<void> {
  if (version.status === 'published') return;
  if (version.checksStatus !== 'passed') {
    const failed = version.checks.filter((c) => c.status === 'failed').map((c) => `${c.name}: ${c.detail}`);
    const why = version.checksStatus === 'failed' ? `these checks failed: ${failed.join('; ')}`
      : version.checksStatus === null ? 'it was never checked; run its checks first' : 'its checks have not finished yet';
    throw new AppError('version-checks-not-passed', 'Version checks have not passed', `Version ${version.version} cannot be published: ${why}.`, {
      checks_status: version.checksStatus, failed_checks: version.checks.filter((c) => c.status === 'failed').map((c) => c.name),
    });
  }
  try {
    await deps.artifacts.getVerified(version.artifactKey, version.sha256, { fromStore: true });
  } catch (err) {
    if (err instanceof ArtifactIntegrityError || err instanceof ArtifactNotFoundError) {
      throw new AppError('artifact-integrity', 'Artifact integrity check failed',
        `Version ${version.version} cannot be published: ${err.detail ?? err.message}. Upload the flow again as a new version.`, err.extensions);
    }
    throw err;
  }
}
