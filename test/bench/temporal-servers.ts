// Temporal servers for bench:runs' floor comparison: today's dev server (the
// baseline the floor speed-up is measured against), the dev server with other
// dynamic config, and the full Temporal server (`temporal-server start`) on
// SQLite with several connections and history shards. Each runs on its own
// ports beside the slot's own server, so the bench alternates them in one run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { portOpen, startProcess, type Service } from '../../deploy/local/processes';
import { repoRoot, SEARCH_ATTRIBUTES, TEMPORAL_DYNAMIC_CONFIG, temporalArgs, temporalReady, type StackLayout } from '../../deploy/local/stack';
import { ensurePostgres, ensureTemporal } from '../../deploy/local/tools';

export interface TemporalServer {
  label: string;
  address: string;
  /** Prometheus metrics of the server itself. */
  metricsUrl: string;
  service: Service;
}

/** Ports for extra servers of the bench: x40–x59 in slot 9's band, which no slot's formula in testLayout reaches. */
const extraPort = (layout: StackLayout, i: number) => layout.ports.temporal + 7 + i; // slot 9: 18140 + i

/** The CLI's dev server as `npm run dev` starts it, on extra ports and its own SQLite file, with more dynamic config. */
export async function startDevServer(layout: StackLayout, opts: { label: string; first: number; dynamicConfig?: Record<string, string> }): Promise<TemporalServer> {
  const dataDir = path.join(layout.dataDir, `temporal-${opts.label}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const ports = { ...layout.ports, temporal: extraPort(layout, opts.first), temporalUi: extraPort(layout, opts.first + 1), temporalMetrics: extraPort(layout, opts.first + 2) };
  const args = temporalArgs({ ...layout, dataDir, ports }, { dynamicConfig: opts.dynamicConfig });
  const address = `127.0.0.1:${ports.temporal}`;
  const service = await startProcess({
    name: `temporal-${opts.label}`, command: ensureTemporal(repoRoot), args, logDir: layout.logDir, url: address, readyTimeoutMs: 60_000,
    ready: async () => (await portOpen(ports.temporal)) && temporalReady(address),
  });
  return { label: opts.label, address, metricsUrl: `http://127.0.0.1:${ports.temporalMetrics}/metrics`, service };
}

/** PostgreSQL: `asyncCommit` sets synchronous_commit=off on Temporal's databases (the dev server's SQLite runs synchronous=normal: nothing lost when a process dies, a power cut may lose the last commits). */
export type FullServerStore = { kind: 'sqlite' } | { kind: 'postgres'; port: number; sqlTool: string; schemaDir: string; asyncCommit: boolean };

/** The full server built from go.temporal.io/server (`bin`), with `shards` history shards and `conns` connections to its store. */
export async function startFullServer(layout: StackLayout, opts: { label: string; first: number; bin: string; shards: number; conns: number; store: FullServerStore }): Promise<TemporalServer> {
  const dataDir = path.join(layout.dataDir, `temporal-${opts.label}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const p = (i: number) => extraPort(layout, opts.first + i);
  const store = opts.store;
  const db = (name: string) => `${opts.label.replace(/\W/g, '_')}_${name}`;
  if (store.kind === 'postgres') {
    for (const [name, schema] of [['temporal', 'temporal'], ['visibility', 'visibility']] as const) {
      const tool = (...args: string[]) => execFileSync(store.sqlTool, ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(store.port), '-u', 'cmp', '--db', db(name), ...args], { stdio: 'ignore' });
      tool('drop-database', '--force');
      tool('create-database');
      tool('setup-schema', '-v', '0.0');
      tool('update-schema', '-d', path.join(store.schemaDir, 'postgresql/v12', schema, 'versioned'));
      if (store.asyncCommit) {
        execFileSync(path.join(ensurePostgres(), 'psql'), ['-h', '127.0.0.1', '-p', String(store.port), '-U', 'cmp', '-d', 'postgres', '-c', `alter database ${db(name)} set synchronous_commit = off`], { stdio: 'ignore' });
      }
    }
  }
  const sqlite = (name: string) => store.kind === 'sqlite' ? `
      sql:
        pluginName: sqlite
        databaseName: ${path.join(dataDir, `${name}.db`)}
        connectAddr: localhost
        connectProtocol: tcp
        connectAttributes: { cache: private, setup: "true", journal_mode: wal, synchronous: "1", busy_timeout: "10000" }
        maxConns: ${opts.conns}
        maxIdleConns: ${opts.conns}
        maxConnLifetime: 1h` : `
      sql:
        pluginName: postgres12
        databaseName: ${db(name)}
        connectAddr: "127.0.0.1:${store.port}"
        connectProtocol: tcp
        user: cmp
        password: ""
        maxConns: ${opts.conns}
        maxIdleConns: ${opts.conns}
        maxConnLifetime: 1h`;
  const dynamicConfig = path.join(dataDir, 'dynamic-config.yaml');
  // The dev server's dynamic config (unquoted YAML scalars: booleans and numbers).
  fs.writeFileSync(dynamicConfig, Object.entries(TEMPORAL_DYNAMIC_CONFIG).map(([k, v]) => `${k}:\n  - value: ${v}\n`).join(''));
  const config = path.join(dataDir, 'config.yaml');
  fs.writeFileSync(config, `log: { stdout: true, level: warn }
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: ${opts.shards}
  datastores:
    default:${sqlite('temporal')}
    visibility:${sqlite('visibility')}
global:
  membership: { maxJoinDuration: 30s, broadcastAddress: 127.0.0.1 }
  metrics:
    prometheus: { framework: tally, timerType: histogram, listenAddress: "127.0.0.1:${p(9)}" }
services:
  frontend: { rpc: { grpcPort: ${p(0)}, membershipPort: ${p(1)}, httpPort: ${p(2)}, bindOnIP: 127.0.0.1 } }
  history: { rpc: { grpcPort: ${p(3)}, membershipPort: ${p(4)}, bindOnIP: 127.0.0.1 } }
  matching: { rpc: { grpcPort: ${p(5)}, membershipPort: ${p(6)}, bindOnIP: 127.0.0.1 } }
  worker: { rpc: { grpcPort: ${p(7)}, membershipPort: ${p(8)}, bindOnIP: 127.0.0.1 } }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active: { enabled: true, initialFailoverVersion: 1, rpcName: frontend, rpcAddress: "127.0.0.1:${p(0)}", httpAddress: "127.0.0.1:${p(2)}" }
dcRedirectionPolicy: { policy: noop }
dynamicConfigClient: { filepath: ${dynamicConfig}, pollInterval: 10s }
`);
  const address = `127.0.0.1:${p(0)}`;
  let registered = false;
  const service = await startProcess({
    name: `temporal-${opts.label}`, command: opts.bin, args: ['--config-file', config, '--allow-no-auth', 'start'], logDir: layout.logDir, url: address, readyTimeoutMs: 90_000,
    ready: async () => {
      if (!(await portOpen(p(0)))) return false;
      if (!registered) registered = await registerDefaultNamespace(address);
      return registered && temporalReady(address);
    },
  });
  return { label: opts.label, address, metricsUrl: `http://127.0.0.1:${p(9)}/metrics`, service };
}

/** The full server starts with no namespace: `default` and our search attributes, as the dev server has them. */
async function registerDefaultNamespace(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 }).catch(() => null);
  if (!connection) return false;
  try {
    await connection.workflowService.registerNamespace({ namespace: 'default', workflowExecutionRetentionPeriod: msToTs('1 day') }).catch((err: { code?: number }) => {
      if (err.code !== 6) throw err; // ALREADY_EXISTS
    });
    const types: Record<string, number> = { Keyword: 2 };
    await connection.operatorService.addSearchAttributes({
      namespace: 'default', searchAttributes: Object.fromEntries(Object.entries(SEARCH_ATTRIBUTES).map(([k, t]) => [k, types[t]!])),
    }).catch((err: { code?: number }) => {
      if (err.code !== 6) throw err;
    });
    return true;
  } catch {
    return false;
  } finally {
    await connection.close();
  }
}

/**
 * Today's configuration (as of issue 17's start), for the baseline: the CLI dev server reads search attributes from
 * the database on every lookup, and each of its one shard's task queues is read at most 20 times a second.
 */
export const TODAY_DYNAMIC_CONFIG = {
  'system.forceSearchAttributesCacheRefreshOnRead': 'true',
  'history.transferProcessorMaxPollRPS': '20',
  'history.visibilityProcessorMaxPollRPS': '20',
  'history.timerProcessorMaxPollRPS': '20',
};
