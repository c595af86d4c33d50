// Starts the real servers the integration tests talk to, once per run, on the
// test layout (own ports, throw-away .test-data/): PostgreSQL, the Temporal
// dev server (through @temporalio/testing, with the installed CLI as an
// existing path: never a download), SeaweedFS (S3), OpenBao (Vault), Keycloak,
// Langflow and the local stand-ins.
import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ensureTemporal } from '../../deploy/local/tools';
import { ensureGitopsRepo, repoRoot, stackEnv, TEMPORAL_DYNAMIC_CONFIG, startKeycloak, startLangflow, startPostgres, startS3, startSaleorSandbox, testLayout } from '../../deploy/local/stack';
import { startOpenBao } from '../../deploy/local/openbao';
import { stopAll, type Service } from '../../deploy/local/processes';
import { createDb, migrateLatest } from '../../core/db';
import { allSearchAttributes } from '../../workflows/shared/search-attributes';
import { writeWorkflowBundle } from './workflow-bundle';

declare module 'vitest' {
  export interface ProvidedContext {
    stackEnv: Record<string, string>;
    workflowBundlePath: string;
    /** The same bundle with OpenTelemetry's workflow interceptors, for workers whose tracing is on. */
    tracedWorkflowBundlePath: string;
  }
}

export default async function setup(project: TestProject) {
  const layout = testLayout();
  fs.rmSync(layout.dataDir, { recursive: true, force: true });
  fs.mkdirSync(layout.logDir, { recursive: true });
  const services: Service[] = [];
  const started = (s: Service) => {
    services.push(s);
    return s;
  };
  const env = stackEnv(layout);
  let temporal: TestWorkflowEnvironment | undefined;
  try {
    const temporalStart = TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: ensureTemporal(repoRoot) },
        ip: '127.0.0.1',
        port: layout.ports.temporal,
        dbFilename: path.join(layout.dataDir, 'temporal.db'),
        searchAttributes: allSearchAttributes,
        log: { format: 'pretty', level: 'warn' },
        // Prometheus (test/integration/observability.test.ts) scrapes the server's metrics here.
        // The dev stack's dynamic config too (deploy/local/stack.ts: task-queue read rates, one partition, Update-with-Start).
        extraArgs: ['--metrics-port', String(layout.ports.temporalMetrics), ...Object.entries(TEMPORAL_DYNAMIC_CONFIG).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${v}`])],
      },
    }).then((t) => (temporal = t));
    const bundle = writeWorkflowBundle(path.join(layout.dataDir, 'workflow-bundle.js'), { traced: false });
    const tracedBundle = writeWorkflowBundle(path.join(layout.dataDir, 'workflow-bundle-traced.js'), { traced: true });
    // allSettled: when one service fails, the others have still started and must be stopped below.
    const results = await Promise.allSettled([
      startPostgres(layout).then(started),
      startS3(layout).then(started),
      // Keycloak's first start (build, realm import) takes about as long as Langflow's; both come up while the rest does.
      startKeycloak(layout).then(started),
      startOpenBao(layout, { token: env.VAULT_TOKEN }).then(started),
      startSaleorSandbox(layout).then(started),
      // CMP_TEST_SKIP_LANGFLOW=1 spares a developer's quick run the ~60 s Langflow start; npm test never sets it.
      process.env.CMP_TEST_SKIP_LANGFLOW === '1' ? undefined : startLangflow(layout).then(started),
      temporalStart,
      bundle,
      tracedBundle,
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const pg = services.find((s) => s.name === 'postgres');
    ensureGitopsRepo(layout);
    // A migrated template: each test file clones it into its own database.
    await createTemplateDatabase(pg!.url);
    project.provide('stackEnv', env);
    project.provide('workflowBundlePath', await bundle);
    project.provide('tracedWorkflowBundlePath', await tracedBundle);
  } catch (err) {
    await stopAll(services);
    await temporal?.teardown();
    throw err;
  }

  return async () => {
    await temporal?.teardown();
    await stopAll(services);
  };
}

async function createTemplateDatabase(url: string): Promise<void> {
  const admin = createDb(url, 1);
  await admin.raw('drop database if exists cmp_template');
  await admin.raw('create database cmp_template');
  await admin.destroy();
  const template = createDb(url.replace(/\/cmp$/, '/cmp_template'), 1);
  await migrateLatest(template);
  await template.destroy();
}
