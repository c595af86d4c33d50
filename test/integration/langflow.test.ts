// The Langflow client against the test stack's real Langflow.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { LangflowRuntime, RuntimeRequestError, RuntimeTimeoutError, langflowOptionsFromConfig } from '../../core/runtime';
import { loadLaunchAgent } from '../../deploy/local/agents';
import { testConfig } from '../support/stack';

const runtime = new LangflowRuntime(langflowOptionsFromConfig(testConfig()));
afterAll(() => runtime.close());

const suffix = () => randomBytes(4).toString('hex');

/**
 * A pass-through proxy to Langflow that holds each answer to the flow list until `callers` lookups have arrived
 * (then answers them all), and forwards everything else at once.
 */
async function startLookupBarrier(target: string, callers: number): Promise<{ url: string; heldLookups(): number; close(): Promise<void> }> {
  const held: Array<() => void> = [];
  let lookups = 0;
  const server = http.createServer((req, res) => {
    const isLookup = req.method === 'GET' && (req.url ?? '').startsWith('/api/v1/flows/?');
    const forward = () => {
      const upstream = http.request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    };
    if (!isLookup || lookups >= callers) return forward();
    lookups += 1;
    held.push(forward);
    if (held.length === callers) held.splice(0).forEach((go) => go());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    heldLookups: () => lookups,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

async function listFlows(): Promise<Array<{ id: string; name: string; endpoint_name: string | null }>> {
  const config = testConfig();
  const res = await fetch(`${config.LANGFLOW_URL}/api/v1/flows/?get_all=true&header_flows=true`, { headers: { 'x-api-key': config.LANGFLOW_API_KEY } });
  return (await res.json()) as Array<{ id: string; name: string; endpoint_name: string | null }>;
}

describe('LangflowRuntime on Langflow', () => {
  it('is healthy', async () => {
    const health = await runtime.health();
    expect(health).toMatchObject({ ok: true, detail: { status: 'ok' } });
  });

  it('ensureFlow twice registers one flow; a changed artifact updates it in place', async () => {
    const { flow } = loadLaunchAgent('ticket-triage');
    const endpointName = `triage-${suffix()}`;
    const first = await runtime.ensureFlow({ name: `Triage ${endpointName}`, endpointName, flow });
    const second = await runtime.ensureFlow({ name: `Triage ${endpointName}`, endpointName, flow });
    expect(first.outcome).toBe('created');
    expect(second).toEqual({ flowId: first.flowId, outcome: 'unchanged' });
    expect((await listFlows()).filter((f) => f.endpoint_name === endpointName)).toHaveLength(1);

    const changed = structuredClone(flow);
    const template = changed.data.nodes[1]!.data.node!.template as Record<string, { value: string }>;
    template.code!.value = template.code!.value.replace('CMP Support', 'CMP Support Team');
    expect(await runtime.ensureFlow({ name: `Triage ${endpointName}`, endpointName, flow: changed })).toEqual({ flowId: first.flowId, outcome: 'updated' });
    const run = await runtime.run(endpointName, { input: 'The dashboard shows a wrong balance, looks like a bug.' });
    expect(run.text).toContain('CMP Support Team');
    expect((await runtime.run(first.flowId, { input: 'hello' })).text).toContain('Ticket triage');
  });

  it('concurrent ensureFlow calls for one agent converge on one flow, even when every lookup misses', async () => {
    const { flow } = loadLaunchAgent('faq-answerer');
    const endpointName = `faq-${suffix()}`;
    const callers = 6;
    // The interleaving a busy machine produces now and then, forced: every caller's lookup answers only once all
    // of them have looked, so all see no flow and all create.
    const proxy = await startLookupBarrier(testConfig().LANGFLOW_URL, callers);
    const raced = new LangflowRuntime({ ...langflowOptionsFromConfig(testConfig()), url: proxy.url });
    try {
      const results = await Promise.all(Array.from({ length: callers }, () => raced.ensureFlow({ name: `FAQ ${endpointName}`, endpointName, flow })));
      expect(proxy.heldLookups()).toBe(callers);
      expect(new Set(results.map((r) => r.flowId)).size).toBe(1);
      expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
      // Langflow renames a clashing create ("FAQ x (1)", endpoint "faq-x-1") rather than refusing it: those are duplicates too.
      const flows = (await listFlows()).filter((f) => f.name.startsWith(`FAQ ${endpointName}`) || f.endpoint_name?.startsWith(endpointName));
      expect(flows.map((f) => f.id)).toEqual([results[0]!.flowId]);
      // What the losers met: Langflow refuses a second flow under a taken id (the fake runtime answers the same).
      const config = testConfig();
      const again = await fetch(`${config.LANGFLOW_URL}/api/v1/flows/`, {
        method: 'POST', headers: { 'x-api-key': config.LANGFLOW_API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ id: results[0]!.flowId, name: `FAQ ${endpointName} again`, endpoint_name: `${endpointName}-again`, data: flow.data }),
      });
      expect({ status: again.status, body: await again.json() }).toEqual({ status: 400, body: { detail: 'Id must be unique' } });
      expect((await runtime.run(endpointName, { input: 'How do I create an API key?' })).text.length).toBeGreaterThan(0);
    } finally {
      await raced.close();
      await proxy.close();
    }
  });

  it('a run past its deadline fails with RuntimeTimeoutError', async () => {
    const { flow } = loadLaunchAgent('faq-answerer');
    const endpointName = `faq-${suffix()}`;
    await runtime.ensureFlow({ name: `FAQ ${endpointName}`, endpointName, flow });
    const err = await runtime.run(endpointName, { input: 'How do I create an API key?' }, { timeoutMs: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeTimeoutError);
    expect(err).toMatchObject({ timeoutMs: 5, retryable: true, status: 504 });
  });

  it('an unknown flow is a non-retryable request error', async () => {
    const err = await runtime.run(`no-such-flow-${suffix()}`, { input: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeRequestError);
    expect(err).toMatchObject({ retryable: false, upstreamStatus: 404 });
  });

  it('a wrong API key is rejected as non-retryable', async () => {
    const wrong = new LangflowRuntime({ ...langflowOptionsFromConfig(testConfig()), apiKey: 'wrong-key' });
    await expect(wrong.run('anything', { input: 'x' })).rejects.toBeInstanceOf(RuntimeRequestError);
    await wrong.close();
  });
});
