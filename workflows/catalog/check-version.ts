// checkVersion: what a version must pass before it may be published. Its
// artifact is read back from S3 (sha256), its flow registered on the runtime,
// and every example input of the offering run on it; each result is recorded
// on the version as it arrives, so the console shows progress. All examples
// run even after one fails, so the publisher sees every failure at once.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { VersionCheckActivities } from '../../activities/catalog/version-checks';
import type { VersionCheck } from '../../core/catalog/store';
import { CHECK, type CheckVersionInput } from '../../core/catalog/contract';
import { activityOptions, localActivityOptions } from '../retry-policies';

const db = proxyLocalActivities<VersionCheckActivities>(localActivityOptions.database);
// A failed check comes back as a result; these retry only when the activity itself could not run, a few times.
const checks = proxyActivities<VersionCheckActivities>({ ...activityOptions.runtime, retry: { ...activityOptions.runtime.retry, maximumAttempts: 3 } });

export async function checkVersion(input: CheckVersionInput): Promise<{ status: 'passed' | 'failed' }> {
  if (!input.versionId) throw new Error('checkVersion needs a versionId');
  const { versionId } = input;
  const { examples } = await db.beginVersionChecks({ versionId });
  const record = async (check: VersionCheck) => {
    await db.recordVersionCheck({ versionId, check });
    return check.status === 'passed';
  };

  let ok = await record(await checks.checkStoredArtifact({ versionId }));
  let flowId: string | null = null;
  if (ok) {
    const registered = await checks.registerVersionFlow({ versionId });
    flowId = registered.flowId;
    ok = await record(registered.check);
  }
  if (ok && examples.length === 0) {
    ok = await record({ name: CHECK.examples, status: 'failed', detail: 'The offering has no example inputs; add at least one so the version can be tried before buyers get it.', durationMs: 0 });
  }
  if (ok && flowId) {
    const runExample = proxyActivities<VersionCheckActivities>({ startToCloseTimeout: input.runTimeoutMs + 15_000, retry: { maximumAttempts: 2 } });
    for (const [index, example] of examples.entries()) {
      const passed = await record(await runExample.runVersionExample({ versionId, flowId, index, input: example, timeoutMs: input.runTimeoutMs }));
      ok = ok && passed;
    }
  }
  const status = ok ? 'passed' : 'failed';
  await db.finishVersionChecks({ versionId, status });
  return { status };
}
