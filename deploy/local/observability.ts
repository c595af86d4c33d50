// Prometheus and Alertmanager for the local stack (Debian's packages, on
// loopback, data in the layout's folder): Prometheus scrapes the API's metrics
// port, each worker's health port and its Temporal SDK metrics, and the
// Temporal server, and evaluates deploy/observability/rules; Alertmanager
// receives the alerts (its cluster listener off: one instance, no gossip port).
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { rulesDir } from '../observability/render-k8s.mjs';
import { httpOk, startProcess, type Service } from './processes';
import { repoRoot, type StackLayout } from './stack';
import { ensurePrometheus } from './tools';

export interface ScrapeTargets {
  /** host:port of the API's metrics port (API_METRICS_PORT: /metrics). */
  api: string[];
  /** Each worker's health port (/metrics) and its SDK metrics port, by task queue. */
  workers: { taskQueue: string; health: string; sdk?: string }[];
  /** host:port of the Temporal server's metrics (`start-dev --metrics-port`). */
  temporal?: string;
}

export interface PrometheusOptions {
  targets: ScrapeTargets;
  /** Rule files to load (default: every file in deploy/observability/rules). */
  ruleFiles?: string[];
  scrapeInterval?: string;
  evaluationInterval?: string;
}

/** The layout's ports for a worker's health and SDK metrics, by its index in workerEntries. */
export const workerPorts = (layout: StackLayout, index: number) => ({ health: layout.ports.workerHealth + index, sdk: layout.ports.workerSdkMetrics + index });

function prometheusConfig(layout: StackLayout, opts: PrometheusOptions): string {
  const { targets } = opts;
  const ruleFiles = opts.ruleFiles ?? fs.readdirSync(rulesDir).filter((f) => f.endsWith('.yml')).map((f) => path.join(rulesDir, f));
  const config = {
    global: { scrape_interval: opts.scrapeInterval ?? '15s', evaluation_interval: opts.evaluationInterval ?? '15s' },
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${layout.ports.alertmanager}`] }] }] },
    rule_files: ruleFiles,
    scrape_configs: [
      { job_name: 'cmp-api', static_configs: [{ targets: targets.api }] },
      { job_name: 'cmp-workers', static_configs: targets.workers.map((w) => ({ targets: [w.health], labels: { task_queue: w.taskQueue } })) },
      {
        job_name: 'temporal-sdk',
        static_configs: targets.workers.flatMap((w) => (w.sdk ? [{ targets: [w.sdk], labels: { task_queue: w.taskQueue } }] : [])),
      },
      ...(targets.temporal ? [{ job_name: 'temporal-server', static_configs: [{ targets: [targets.temporal] }] }] : []),
      { job_name: 'prometheus', static_configs: [{ targets: [`127.0.0.1:${layout.ports.prometheus}`] }] },
    ],
  };
  return `# Written by deploy/local/observability.ts at every start; edit that file, not this one.\n${stringify(config)}`;
}

export async function startPrometheus(layout: StackLayout, opts: PrometheusOptions): Promise<Service> {
  const { prometheus } = ensurePrometheus();
  const dir = path.join(layout.dataDir, 'prometheus');
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(configFile, prometheusConfig(layout, opts));
  const url = `http://127.0.0.1:${layout.ports.prometheus}`;
  return startProcess({
    name: 'prometheus',
    command: prometheus,
    args: [
      `--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${layout.ports.prometheus}`,
      '--storage.tsdb.retention.time=15d', '--log.level=warn',
    ],
    logDir: layout.logDir,
    url,
    ready: () => httpOk(`${url}/-/ready`),
  });
}

export async function startAlertmanager(layout: StackLayout): Promise<Service> {
  const { alertmanager } = ensurePrometheus();
  const dir = path.join(layout.dataDir, 'alertmanager');
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'alertmanager.yml');
  fs.copyFileSync(path.join(repoRoot, 'deploy/observability/alertmanager.yml'), configFile);
  const url = `http://127.0.0.1:${layout.ports.alertmanager}`;
  return startProcess({
    name: 'alertmanager',
    command: alertmanager,
    args: [
      `--config.file=${configFile}`, `--storage.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${layout.ports.alertmanager}`,
      '--cluster.listen-address=', '--log.level=warn',
    ],
    logDir: layout.logDir,
    url,
    ready: () => httpOk(`${url}/-/ready`),
  });
}
