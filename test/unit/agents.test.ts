import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LangflowRuntime, RuntimeRequestError, RuntimeTimeoutError, RuntimeUnavailableError, flowFingerprint, flowIdFor, parseRunResponse } from '../../core/runtime';
import { agentsDir, loadLaunchAgents } from '../../deploy/local/agents';
import { startFakeRuntime, type FakeRuntime } from '../support/fake-runtime';

describe('launch agent metadata', () => {
  for (const { meta, flow } of loadLaunchAgents()) {
    describe(meta.slug, () => {
      it('has the store fields and the three plans, amounts in millicredits', () => {
        expect(meta.publisher).toBe('CMP Labs');
        expect(meta.version).toBe('1.0.0');
        expect(meta.changelog[0]!.version).toBe('1.0.0');
        expect(meta.exampleInputs.length).toBeGreaterThanOrEqual(3);
        expect(meta.exampleInputs.length).toBeLessThanOrEqual(4);
        expect(meta.description).toMatch(/^## /);
        expect(meta.plans).toEqual([
          { code: 'free', name: 'Free', priceCents: 0, currency: 'USD', monthlyCreditsMc: 50_000, pricePerRunMc: 1_000, rateLimitPerMinute: 20 },
          { code: 'plus', name: 'Plus', priceCents: 1990, currency: 'USD', monthlyCreditsMc: 2_000_000, pricePerRunMc: 1_000, rateLimitPerMinute: 120 },
          { code: 'pro', name: 'Pro', priceCents: 9990, currency: 'USD', monthlyCreditsMc: 12_000_000, pricePerRunMc: 1_000, rateLimitPerMinute: 600 },
        ]);
      });

      it('ships a flow.json built from the current component source and documents (run build.ts after editing them)', () => {
        const dir = path.join(agentsDir, meta.slug);
        expect(flow.endpoint_name).toBe(meta.slug);
        const core = flow.data.nodes.find((n) => n.data.type === meta.component.className)!;
        const template = core.data.node!.template as Record<string, { value: unknown }>;
        expect(template.code!.value).toBe(fs.readFileSync(path.join(dir, meta.component.file), 'utf8'));
        for (const [field, file] of Object.entries(meta.component.bundledFields ?? {})) {
          expect(template[field]!.value).toBe(fs.readFileSync(path.join(dir, file), 'utf8'));
        }
        expect(flow.data.nodes.map((n) => n.data.type)).toEqual(['ChatInput', meta.component.className, 'ChatOutput']);
      });
    });
  }
});

describe('parseRunResponse', () => {
  it('reads text, usage and session from a Langflow answer', () => {
    const body = {
      session_id: 's1',
      outputs: [{ outputs: [{ results: { message: { text: 'hi', properties: { usage: { input_tokens: 12, output_tokens: 3 } } } } }] }],
    };
    expect(parseRunResponse(body, 'f')).toEqual({ text: 'hi', usage: { inputTokens: 12, outputTokens: 3 }, sessionId: 's1' });
  });

  it('omits usage when the flow reports none, and rejects an answer without a chat message', () => {
    expect(parseRunResponse({ outputs: [{ outputs: [{ results: { message: { text: 'x', properties: { usage: null } } } }] }] }, 'f')).toEqual({ text: 'x' });
    expect(() => parseRunResponse({ outputs: [] }, 'f')).toThrow(RuntimeRequestError);
  });
});

describe('flowIdFor', () => {
  it('gives an endpoint one id every time, another endpoint another, and never a version 5 id (Langflow refuses those)', () => {
    const id = flowIdFor('cmp-faq-answerer-v1-0-0');
    expect(flowIdFor('cmp-faq-answerer-v1-0-0')).toBe(id);
    expect(flowIdFor('cmp-faq-answerer-v1-1-0')).not.toBe(id);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('flowFingerprint', () => {
  it('ignores presentation and changes with behaviour', () => {
    const [agent] = loadLaunchAgents();
    const moved = structuredClone(agent!.flow);
    moved.data.nodes[0]!.position = { x: 999, y: 1 };
    expect(flowFingerprint(moved.data)).toBe(flowFingerprint(agent!.flow.data));
    const changed = structuredClone(agent!.flow);
    (changed.data.nodes[1]!.data.node!.template as Record<string, { value: string }>).code!.value += '\n# changed';
    expect(flowFingerprint(changed.data)).not.toBe(flowFingerprint(agent!.flow.data));
  });
});

describe('LangflowRuntime against the fake runtime', () => {
  let fake: FakeRuntime;
  let runtime: LangflowRuntime;
  beforeAll(async () => {
    fake = await startFakeRuntime({ apiKey: 'k' });
    runtime = new LangflowRuntime({ url: fake.url, apiKey: 'k', runTimeoutMs: 2_000 });
  });
  afterAll(async () => {
    await runtime.close();
    await fake.close();
  });

  it('creates a flow once, then finds it, then updates it when the artifact changes', async () => {
    const { flow } = loadLaunchAgents()[0]!;
    const first = await runtime.ensureFlow({ name: 'Triage', endpointName: 'triage', flow });
    const second = await runtime.ensureFlow({ name: 'Triage', endpointName: 'triage', flow });
    expect(first.outcome).toBe('created');
    expect(second).toEqual({ flowId: first.flowId, outcome: 'unchanged' });
    const changed = structuredClone(flow);
    (changed.data.nodes[1]!.data.node!.template as Record<string, { value: string }>).code!.value += '\n# v2';
    expect(await runtime.ensureFlow({ name: 'Triage', endpointName: 'triage', flow: changed })).toEqual({ flowId: first.flowId, outcome: 'updated' });
  });

  it('runs by endpoint name and by id', async () => {
    const { flowId } = await runtime.ensureFlow({ name: 'Triage', endpointName: 'triage', flow: loadLaunchAgents()[0]!.flow });
    const byName = await runtime.run('triage', { input: 'hello', sessionId: 'abc' });
    expect(byName).toMatchObject({ text: 'echo: hello', sessionId: 'abc' });
    expect(byName.latencyMs).toBeGreaterThan(0);
    expect((await runtime.run(flowId, { input: 'x' })).text).toBe('echo: x');
  });

  it('maps 4xx to a non-retryable error and network failures to a retryable one', async () => {
    const err = await runtime.run('missing-flow', { input: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeRequestError);
    expect((err as RuntimeRequestError).retryable).toBe(false);
    expect((err as RuntimeRequestError).upstreamStatus).toBe(404);
    const down = new LangflowRuntime({ url: 'http://127.0.0.1:9', apiKey: 'k', runTimeoutMs: 1_000 });
    const netErr = await down.run('triage', { input: 'x' }).catch((e: unknown) => e);
    expect(netErr).toBeInstanceOf(RuntimeUnavailableError);
    expect((netErr as RuntimeUnavailableError).retryable).toBe(true);
    expect((await down.health()).ok).toBe(false);
    await down.close();
  });

  it('rejects a wrong API key as non-retryable', async () => {
    const wrong = new LangflowRuntime({ url: fake.url, apiKey: 'nope', runTimeoutMs: 1_000 });
    await expect(wrong.run('triage', { input: 'x' })).rejects.toBeInstanceOf(RuntimeRequestError);
    await wrong.close();
  });

  it('times out with RuntimeTimeoutError', async () => {
    const http = await import('node:http');
    const silent = http.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    const slow = new LangflowRuntime({ url: `http://127.0.0.1:${port}`, apiKey: 'k', runTimeoutMs: 10_000 });
    const t0 = Date.now();
    const err = await slow.run('triage', { input: 'x' }, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeTimeoutError);
    expect(Date.now() - t0).toBeLessThan(2_000);
    await slow.close();
    silent.closeAllConnections();
    silent.close();
  });
});
