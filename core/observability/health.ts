// Liveness and readiness, for the API's public port and every metrics port
// (core/metrics/health-server.ts). /readyz runs every probe in parallel, each
// with a short timeout, and answers 503 naming the ones that failed.
import { Router } from 'express';

/** Resolves while its system answers; throws (or hangs past the timeout) when it does not. */
export type Probe = () => Promise<unknown>;

export interface ProbeResult {
  ok: boolean;
  latency_ms: number;
  error?: string;
}

const PROBE_TIMEOUT_MS = 2000;

export async function runProbe(probe: Probe, timeoutMs = PROBE_TIMEOUT_MS): Promise<ProbeResult> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs).unref())),
    ]);
    return { ok: true, latency_ms: Math.round(performance.now() - t0) };
  } catch (err) {
    return { ok: false, latency_ms: Math.round(performance.now() - t0), error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export function createHealthRouter(probes: Record<string, Probe>, opts: { timeoutMs?: number } = {}): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const names = Object.keys(probes);
    const results = await Promise.all(names.map((n) => runProbe(probes[n]!, opts.timeoutMs)));
    const checks = Object.fromEntries(names.map((n, i) => [n, results[i]]));
    const ready = results.every((r) => r.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  return router;
}
