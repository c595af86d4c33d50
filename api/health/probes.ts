// Readiness probes of the API's dependencies; each throws when its system is down.
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { Connection } from '@temporalio/client';
import type { Config } from '../../core/config';
import { pingDb, type Db } from '../../core/db';
import type { Probe } from '../../core/observability/health';

async function httpProbe(url: string, init?: RequestInit): Promise<void> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(1500) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}`);
}

export function createProbes(config: Config, db: Db, temporal: Connection, s3: S3Client): Record<string, Probe> {
  return {
    postgres: () => pingDb(db),
    temporal: () => temporal.workflowService.getSystemInfo({}),
    s3: () => s3.send(new HeadBucketCommand({ Bucket: config.S3_ARTIFACT_BUCKET })),
    oidc: () => httpProbe(`${config.OIDC_ISSUER}/.well-known/openid-configuration`),
    langflow: () => httpProbe(`${config.LANGFLOW_URL}/health_check`),
  };
}
