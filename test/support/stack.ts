// What an integration test needs from the running test stack: its
// configuration, a fresh database of its own, and a Temporal client.
import { inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, type Config } from '../../core/config';
import { createDb, type Db } from '../../core/db';

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ ...inject('stackEnv'), LOG_LEVEL: 'warn', ...overrides });
}

/** A new database cloned from the migrated template; dropped by the returned cleanup. */
export async function freshDatabase(): Promise<{ db: Db; url: string; drop: () => Promise<void> }> {
  const base = testConfig().DATABASE_URL;
  const name = `cmp_t_${randomBytes(6).toString('hex')}`;
  const admin = createDb(base, 1);
  await admin.raw(`create database ${name} template cmp_template`);
  await admin.destroy();
  const url = base.replace(/\/cmp$/, `/${name}`);
  const db = createDb(url, 20);
  return {
    db,
    url,
    drop: async () => {
      await db.destroy();
      const a = createDb(base, 1);
      await a.raw(`drop database if exists ${name} with (force)`);
      await a.destroy();
    },
  };
}

export async function temporalClient(): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: testConfig().TEMPORAL_ADDRESS });
  return { client: new Client({ connection, namespace: 'default' }), connection };
}

/** The prebuilt workflow bundle for a worker whose tracing is on (OpenTelemetry's workflow interceptors) or off. */
export const workflowBundlePath = (traced = false) => inject(traced ? 'tracedWorkflowBundlePath' : 'workflowBundlePath');
