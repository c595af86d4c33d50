// The Langflow client against the test stack's real Langflow.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { LangflowRuntime, RuntimeRequestError, RuntimeTimeoutError, langflowOptionsFromConfig } from '../../core/runtime';
import { loadLaunchAgent } from '../../deploy/local/agents';
import { testConfig } from '../support/stack';

const runtime = new LangflowRuntime(langflowOptionsFromConfig(testConfig()));
afterAll(() => runtime.close());

const suffix = () => randomBytes(4).toString('hex');

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

  it('concurrent ensureFlow calls for one agent converge on one flow', async () => {
    const { flow } = loadLaunchAgent('faq-answerer');
    const endpointName = `faq-${suffix()}`;
    const results = await Promise.all([1, 2, 3].map(() => runtime.ensureFlow({ name: `FAQ ${endpointName}`, endpointName, flow })));
    expect(new Set(results.map((r) => r.flowId)).size).toBe(1);
    expect((await listFlows()).filter((f) => f.endpoint_name === endpointName)).toHaveLength(1);
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
