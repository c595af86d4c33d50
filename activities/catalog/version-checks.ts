// The checks a new version goes through before it may be published: its
// artifact read back from S3 and sha256-checked, its flow registered on the
// runtime, and each of the offering's example inputs run on it. A check that
// fails is a result to show the publisher, not an error to retry: these
// activities return it; only our own database calls throw (and retry).
import type { ArtifactStore } from '../../core/artifacts';
import { CHECK } from '../../core/catalog/contract';
import type { CatalogStore, VersionCheck } from '../../core/catalog/store';
import type { AgentRuntime, FlowExport } from '../../core/runtime/agent-runtime';
import { runtimeFlowName } from '../../core/catalog/publishing';

export interface VersionCheckDeps {
  catalog: CatalogStore;
  artifacts: ArtifactStore;
  runtime: AgentRuntime;
}

/** How much of an example's answer, or of an error (Langflow's can carry a whole traceback), the console shows. */
const EXCERPT_CHARS = 280;
const ERROR_CHARS = 600;

const excerpt = (text: string, max = EXCERPT_CHARS) => (text.length > max ? `${text.slice(0, max)}…` : text);

async function timed(name: string, fn: () => Promise<string>, input?: string): Promise<VersionCheck> {
  const t0 = performance.now();
  const base = input === undefined ? { name } : { name, input };
  try {
    const detail = await fn();
    return { ...base, status: 'passed', detail, durationMs: Math.round(performance.now() - t0) };
  } catch (err) {
    return { ...base, status: 'failed', detail: excerpt((err as Error).message, ERROR_CHARS), durationMs: Math.round(performance.now() - t0) };
  }
}

export function createVersionCheckActivities(deps: VersionCheckDeps) {
  const { catalog } = deps;

  async function beginVersionChecks(input: { versionId: string }): Promise<{ examples: string[] }> {
    const version = await catalog.beginVersionChecks(input.versionId, [CHECK.validation]);
    return { examples: (await catalog.getById(version.offeringId)).exampleInputs };
  }

  async function recordVersionCheck(input: { versionId: string; check: VersionCheck }): Promise<void> {
    await catalog.recordVersionCheck(input.versionId, input.check);
  }

  async function finishVersionChecks(input: { versionId: string; status: 'passed' | 'failed' }): Promise<void> {
    await catalog.finishVersionChecks(input.versionId, input.status);
  }

  /** Reads the object S3 holds now (not a cached copy) and checks its sha256 against the catalog's. */
  async function checkStoredArtifact(input: { versionId: string }): Promise<VersionCheck> {
    const version = await catalog.getVersion(input.versionId);
    return timed(CHECK.stored, async () => {
      const bytes = await deps.artifacts.getVerified(version.artifactKey, version.sha256, { fromStore: true });
      return `${version.artifactKey}: ${bytes.length} bytes, sha256 matches`;
    });
  }

  async function registerVersionFlow(input: { versionId: string }): Promise<{ check: VersionCheck; flowId: string | null }> {
    const version = await catalog.getVersion(input.versionId);
    const offering = await catalog.getById(version.offeringId);
    let flowId: string | null = null;
    const check = await timed(CHECK.registered, async () => {
      const flow = JSON.parse((await deps.artifacts.getVerified(version.artifactKey, version.sha256)).toString('utf8')) as FlowExport;
      const name = version.runtimeFlowName ?? runtimeFlowName(offering.slug, version.version);
      const registered = await deps.runtime.ensureFlow({ name, endpointName: name, flow, description: `${offering.name} ${version.version} (CMP)` });
      flowId = registered.flowId;
      return `Registered on the runtime as ${name} (flow ${registered.flowId}, ${registered.outcome})`;
    });
    if (flowId) await catalog.setVersionRuntimeFlow(version.id, flowId);
    return { check, flowId };
  }

  /** One example input on the registered flow: a check run, outside the run path, so nobody is billed. */
  async function runVersionExample(input: { versionId: string; flowId: string; index: number; input: string; timeoutMs: number }): Promise<VersionCheck> {
    return timed(CHECK.example(input.index), async () => {
      const result = await deps.runtime.run(input.flowId, { input: input.input, sessionId: `check-${input.versionId}-${input.index}` }, { timeoutMs: input.timeoutMs });
      if (!result.text.trim()) throw new Error('The flow answered with no text');
      return excerpt(result.text);
    }, input.input);
  }

  return { beginVersionChecks, recordVersionCheck, finishVersionChecks, checkStoredArtifact, registerVersionFlow, runVersionExample };
}

export type VersionCheckActivities = ReturnType<typeof createVersionCheckActivities>;
