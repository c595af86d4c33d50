// Where a run's time goes, for bench:runs: Prometheus histograms (the Temporal
// server's own, the SDK worker's, the API's) scraped before and after a phase;
// each line is a histogram's mean over that phase (Δsum / Δcount), per run.
import fs from 'node:fs';

/** sum and count of every histogram series in a Prometheus text page, keyed by name and labels. */
export type Histograms = Map<string, { sum: number; count: number }>;

export function parseHistograms(text: string, keep: (name: string, labels: Record<string, string>) => string | null): Histograms {
  const out: Histograms = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)_(sum|count)(?:\{(.*)\})? ([-+\d.eE]+|NaN)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    const key = keep(m[1]!, labels);
    if (key === null) continue;
    const entry = out.get(key) ?? { sum: 0, count: 0 };
    entry[m[2] as 'sum' | 'count'] += Number(m[4]);
    out.set(key, entry);
  }
  return out;
}

export async function scrape(url: string, keep: Parameters<typeof parseHistograms>[1]): Promise<Histograms> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return parseHistograms(await res.text(), keep);
}

/** Per key: how many observations the phase added, and their mean in ms (histograms in seconds). */
export function phase(before: Histograms, after: Histograms): Map<string, { count: number; meanMs: number }> {
  const out = new Map<string, { count: number; meanMs: number }>();
  for (const [key, a] of after) {
    const b = before.get(key) ?? { sum: 0, count: 0 };
    const count = a.count - b.count;
    if (count > 0) out.set(key, { count, meanMs: ((a.sum - b.sum) / count) * 1000 });
  }
  return out;
}

/** The Temporal server's request latency per service and operation, and its persistence latency per operation. */
export const serverKeep = (name: string, l: Record<string, string>): string | null => {
  if (l.namespace !== 'default') return null;
  if (name === 'service_latency' && !/^Poll/.test(l.operation ?? '')) return `server ${l.service_name ?? '?'} ${l.operation}`;
  if (name === 'persistence_latency') return `server persistence ${l.operation}`;
  return null;
};

/** The SDK worker's task latencies on one task queue: schedule-to-start and execution of workflow tasks, local activities by type. */
export const sdkKeep = (taskQueue: string) => (name: string, l: Record<string, string>): string | null => {
  if (l.task_queue !== undefined && l.task_queue !== taskQueue) return null;
  if (/^temporal_workflow_task_(schedule_to_start|execution|replay)_latency/.test(name)) return `worker ${name.replace(/^temporal_/, '')}`;
  if (/^temporal_local_activity_execution_latency/.test(name)) return `worker local activity ${l.activity_type}`;
  if (/^temporal_workflow_endtoend_latency/.test(name)) return `worker workflow end-to-end`;
  return null;
};

/** CPU seconds (user + system) of each process tree, by root pid, from /proc: what each process spends per run. */
export function cpuSeconds(roots: Record<string, number | undefined>): Record<string, number> {
  const tick = 100; // USER_HZ on Linux
  const procs = new Map<number, { ppid: number; cpu: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.set(Number(entry), { ppid: Number(fields[1]), cpu: (Number(fields[11]) + Number(fields[12])) / tick });
    } catch {
      // gone meanwhile
    }
  }
  const out: Record<string, number> = {};
  for (const [name, root] of Object.entries(roots)) {
    if (root === undefined) continue;
    const inTree = (pid: number): boolean => {
      for (let p = pid, hops = 0; p > 1 && hops < 20; p = procs.get(p)?.ppid ?? 0, hops++) if (p === root) return true;
      return false;
    };
    out[name] = [...procs].filter(([pid]) => inTree(pid)).reduce((t, [, p]) => t + p.cpu, 0);
  }
  return out;
}
