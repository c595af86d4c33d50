// Liveness and readiness. /readyz checks every dependency in parallel, each
// with a short timeout, and answers 503 naming the ones that are down.
import { Router } from 'express';

export type Probe = () => Promise<unknown>;

const PROBE_TIMEOUT_MS = 2000;

async function runProbe(probe: Probe): Promise<{ ok: boolean; latency_ms: number; error?: string }> {
  const t0 = performance.now();
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS).unref()),
    ]);
    return { ok: true, latency_ms: Math.round(performance.now() - t0) };
  } catch (err) {
    return { ok: false, latency_ms: Math.round(performance.now() - t0), error: (err as Error).message };
  }
}

export function createHealthRouter(probes: Record<string, Probe>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const names = Object.keys(probes);
    const results = await Promise.all(names.map((n) => runProbe(probes[n]!)));
    const checks = Object.fromEntries(names.map((n, i) => [n, results[i]]));
    const ready = results.every((r) => r.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  return router;
}
