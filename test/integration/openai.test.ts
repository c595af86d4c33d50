// Agents called the way developers call models, against the real stack
// (PostgreSQL, the Temporal dev server, real Langflow): API key scopes and
// GET /v1/balance; the official `openai` SDK, unmodified, pointed at the API
// (models, a completion, a streamed completion, 402, 429, 404, 504 as the SDK
// raises them); POST /v1/runs streamed to a plain SSE client; and the money
// of streamed runs: one hold and one settlement per run, also when the client
// disconnects mid-stream and when the worker is killed mid-stream (the chunks
// then reach another API replica from another worker through PostgreSQL).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI, { APIError, NotFoundError, RateLimitError } from 'openai';
import { createApp } from '../../api/app';
import { createRouters } from '../../api/routes';
import { createRunActivities } from '../../activities/runs';
import { validateFlow } from '../../core/artifacts';
import { createLogger } from '../../core/logger';
import type { AgentRuntime } from '../../core/runtime/agent-runtime';
import { createSaleorWebhookVerifier } from '../../core/saleor/webhook-signature';
import { hangOnDemand, startHangingServer, type HangingServer } from '../support/hanging-runtime';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';
import { until } from '../support/until';
import { spawnWorker } from '../support/worker-process';

let p: TestPlatform;
let token: string;
let supportToken: string;
let key: string;
let walletId: string;
let openai: OpenAI;
let hang: HangingServer;

const TICKET = 'Our production API is down for all customers, every request returns 503 since 20 minutes!';

async function setBalance(mc: number) {
  const current = (await p.call('GET', '/v1/wallet', { token })).body.available_mc as number;
  if (current === mc) return;
  const r = await p.call('POST', `/v1/support/wallets/${walletId}/adjustments`, { token: supportToken, body: { amount_mc: mc - current, reason: 'test setup' } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
}

/** The statement's labels for one run. */
async function statementOf(runId: string): Promise<string[]> {
  const items = (await p.call('GET', `/v1/wallets/${walletId}/transfers?limit=200`, { token })).body.items as { run_id: string; label: string }[];
  return items.filter((e) => e.run_id === runId).map((e) => e.label).sort();
}

const settled = (runId: string) => until(`run ${runId} settled`, async () => (await p.clients.db('transfers').where('id', `settle:${runId}`).first()) ?? null, 90_000);

/** A plain SSE client: fetch and read the body, yielding each event as it arrives. */
async function* sse(url: string, init: RequestInit): AsyncGenerator<{ event: string; data: any; at: number }> {
  const res = await fetch(url, init);
  expect(res.status, await (res.status === 200 ? Promise.resolve('') : res.clone().text())).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of res.body!) {
    buffer += decoder.decode(bytes as Uint8Array, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
      yield { event, data: data === '[DONE]' ? data : JSON.parse(data), at: performance.now() };
    }
  }
}

const streamRunInit = (input: string, signal?: AbortSignal, apiKey = key): RequestInit => ({
  method: 'POST', signal,
  headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'text/event-stream' },
  body: JSON.stringify({ agent: 'ticket-triage', input }),
});

beforeAll(async () => {
  hang = await startHangingServer();
  p = await startPlatform({
    configOverrides: { LANGFLOW_RUN_TIMEOUT_MS: '6000', RUN_SYNC_WAIT_MS: '30000' },
    runActivities: ({ clients, config }) => {
      const real = clients.runtime;
      const runtime: AgentRuntime = {
        ...hangOnDemand(real, hang.url, config),
        // '[tokens]' answers as a flow with a model would: the real answer plus the tokens the model reported.
        // '[slow]' streams the real answer's first words at once and the rest 3 s later, so a client can leave mid-stream.
        stream: async (flow, input, o) => {
          if (input.input.includes('[tokens]')) return { ...(await real.stream!(flow, input, o)), usage: { inputTokens: 12, outputTokens: 34 } };
          if (!input.input.includes('[slow]')) return real.stream!(flow, input, o);
          const result = await real.run(flow, input, o);
          o.onText(result.text.slice(0, 18));
          await new Promise((r) => setTimeout(r, 3000));
          o.onText(result.text.slice(18));
          return result;
        },
      };
      return createRunActivities({ ...clients, runtime });
    },
  });
  const [buyer, support] = await Promise.all([loginAs('buyer@cmp.local'), loginAs('support@cmp.local')]);
  token = buyer.accessToken;
  supportToken = support.accessToken;
  const ws = (await p.call('POST', '/v1/orgs/auto', { token })).body;
  walletId = ws.wallet_id;
  const sub = await p.call('POST', '/v1/instances', { token, body: { offering: 'ticket-triage', plan: 'free' } });
  await until('instance active', async () => (await p.call('GET', `/v1/orders/${sub.body.order_id}`, { token })).body.status === 'fulfilled', 90_000);
  key = (await p.call('POST', '/v1/api-keys', { token, body: { name: 'sdk' } })).body.secret;
  await p.clients.db('plans').update({ rate_limit_per_minute: 10_000, org_rate_limit_per_minute: 10_000 });
  // maxRetries 0: the SDK would otherwise retry 429 and 5xx, and the test checks what one call raises.
  openai = new OpenAI({ apiKey: key, baseURL: `${p.url}/v1`, maxRetries: 0 });
}, 240_000);

afterAll(async () => {
  await p?.close();
  hang?.close();
});

describe('API key scopes', () => {
  it('a key with usage:read reads the balance and usage; a runs-only key gets 403; existing keys keep running agents', async () => {
    await setBalance(7000);
    const created = await p.call('POST', '/v1/api-keys', { token, body: { name: 'reader', scopes: ['usage:read'] } });
    expect(created.status).toBe(201);
    expect(created.body.scopes).toEqual(['usage:read']);
    const reader = created.body.secret as string;
    const balance = await p.call('GET', '/v1/balance', { headers: { authorization: `Bearer ${reader}` } });
    expect(balance.status).toBe(200);
    expect(balance.body).toMatchObject({ available_mc: 7000, held_mc: 0, credits: 7 });
    const usage = await p.call('GET', '/v1/usage?days=7', { headers: { authorization: `Bearer ${reader}` } });
    expect(usage.status).toBe(200);
    expect(usage.body.days).toHaveLength(7);

    // The default key (no scopes asked for) runs agents and may not read the balance.
    const keys = (await p.call('GET', '/v1/api-keys', { token })).body.items as { name: string; scopes: string[] }[];
    expect(keys.find((k) => k.name === 'sdk')!.scopes).toEqual(['runs']);
    const refused = await p.call('GET', '/v1/balance', { headers: { authorization: `Bearer ${key}` } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(refused.body.type).toMatch(/forbidden$/);
    expect((await p.call('GET', '/v1/usage', { headers: { authorization: `Bearer ${key}` } })).status).toBe(403);
    // And the reader may not run agents.
    const run = await p.call('POST', '/v1/runs', { headers: { authorization: `Bearer ${reader}` }, body: { agent: 'ticket-triage', input: 'hi' } });
    expect(run.status).toBe(403);
    const bad = await p.call('POST', '/v1/api-keys', { token, body: { name: 'x', scopes: ['admin'] } });
    expect(bad.status).toBe(400);
  });
});

describe('OpenAI SDK against the API', () => {
  it('lists the agents this key may run as models', async () => {
    const models = [];
    for await (const m of openai.models.list()) models.push(m);
    expect(models.map((m) => m.id)).toEqual(['ticket-triage']);
    expect(models[0]).toMatchObject({ object: 'model', owned_by: 'cmp' });
  });

  it('answers a chat completion from the last user message, charged like a run', async () => {
    await setBalance(10_000);
    const completion = await openai.chat.completions.create({
      model: 'ticket-triage',
      messages: [{ role: 'system', content: 'You triage tickets.' }, { role: 'user', content: 'ignored earlier turn' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: TICKET }],
      temperature: 0.2,
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('ticket-triage');
    expect(completion.choices[0]!.message.content).toMatch(/P1/);
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    const cmp = (completion as unknown as { cmp: { run_id: string; credits_charged_mc: number; balance_mc: number } }).cmp;
    expect(cmp).toMatchObject({ credits_charged_mc: 1000, balance_mc: 9000 });
    expect(await statementOf(cmp.run_id)).toEqual(['hold', 'settlement']);
  });

  it('streams a completion as chat.completion.chunk events that add up to the same answer', async () => {
    await setBalance(10_000);
    const whole = await openai.chat.completions.create({ model: 'ticket-triage', messages: [{ role: 'user', content: TICKET }] });
    const stream = await openai.chat.completions.create({ model: 'ticket-triage', messages: [{ role: 'user', content: TICKET }], stream: true, stream_options: { include_usage: true } });
    let content = '';
    const finishes: (string | null)[] = [];
    let role: string | undefined;
    let runId = '';
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      role ??= chunk.choices[0]?.delta.role;
      content += chunk.choices[0]?.delta.content ?? '';
      if (chunk.choices[0]) finishes.push(chunk.choices[0].finish_reason);
      runId ||= (chunk as unknown as { cmp?: { run_id: string } }).cmp?.run_id ?? '';
    }
    expect(role).toBe('assistant');
    expect(content).toBe(whole.choices[0]!.message.content);
    expect(finishes.at(-1)).toBe('stop');
    expect(await statementOf(runId)).toEqual(['hold', 'settlement']);
    expect((await p.call('GET', '/v1/wallet', { token })).body.available_mc).toBe(8000);
  });

  it("reports the agent's tokens as usage, in the completion and in a streamed completion's usage chunk", async () => {
    await setBalance(10_000);
    const stream = await openai.chat.completions.create({ model: 'ticket-triage', messages: [{ role: 'user', content: `[tokens] ${TICKET}` }], stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) usage ??= chunk.usage;
    expect(usage).toEqual({ prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 });
    // Without tokens reported (the launch agents use no model), the completion has no usage rather than zeros.
    const plain = await openai.chat.completions.create({ model: 'ticket-triage', messages: [{ role: 'user', content: TICKET }] });
    expect(plain.usage).toBeUndefined();
  });

  it('raises 402 when the wallet cannot cover the hold, before any stream opens', async () => {
    await setBalance(0);
    const err = await openai.chat.completions.create({ model: 'ticket-triage', messages: [{ role: 'user', content: TICKET }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(402);
    expect((err as APIError).code).toBe('insufficient_credits');
    const streamed = await openai.chat.completions.create({ model: 'ticket-triage', messages: [{ role: 'user', content: TICKET }], stream: true }).catch((e: unknown) => e);
    expect((streamed as APIError).status).toBe(402);
  });

  it('raises NotFoundError for an agent the key may not run', async () => {
    const err = await openai.chat.completions.create({ model: 'faq-answerer', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as APIError).code).toBe('model_not_found');
  });

  it('raises RateLimitError with Retry-After past the plan limit', async () => {
    await setBalance(10_000);
    await p.clients.db('plans').update({ rate_limit_per_minute: 1 });
    try {
      const limited = new OpenAI({ apiKey: (await p.call('POST', '/v1/api-keys', { token, body: { name: 'limited' } })).body.secret, baseURL: `${p.url}/v1`, maxRetries: 0 });
      // Windows are whole minutes: two calls across a minute's end count in two windows.
      const msLeft = 60_000 - (Date.now() % 60_000);
      if (msLeft < 20_000) await new Promise((r) => setTimeout(r, msLeft + 200));
      await limited.chat.completions.create({ model: 'ticket-triage', messages: [{ role: 'user', content: 'refund please' }] });
      const err = await limited.chat.completions.create({ model: 'ticket-triage', messages: [{ role: 'user', content: 'refund please' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RateLimitError);
      expect((err as APIError).headers?.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      await p.clients.db('plans').update({ rate_limit_per_minute: 10_000 });
    }
  });

  it('raises a 504 when the agent times out, and charges nothing', async () => {
    await setBalance(5000);
    const err = await openai.chat.completions.create({ model: 'ticket-triage', messages: [{ role: 'user', content: '[hang] please triage' }] }).catch((e: unknown) => e);
    expect((err as APIError).status).toBe(504);
    expect((err as APIError).code).toBe('agent_timeout');
    const balance = await p.clients.ledger.balance(walletId);
    expect(balance.available).toBe(5000);
    expect(balance.debitsPending).toBe(0);
  });
});

describe('POST /v1/runs streamed', () => {
  it('streams run.started, the output and run.completed with the credits charged and the balance', async () => {
    await setBalance(10_000);
    const events = [];
    for await (const e of sse(`${p.url}/v1/runs`, streamRunInit(TICKET))) events.push(e);
    expect(events[0]!.event).toBe('run.started');
    const done = events.at(-1)!;
    expect(done.event).toBe('run.completed');
    expect(done.data).toMatchObject({ status: 'succeeded', credits_charged_mc: 1000, balance_mc: 9000 });
    expect(events.filter((e) => e.event === 'output').map((e) => e.data.text).join('')).toBe(done.data.output);
    expect(done.data.output).toMatch(/P1/);
    expect(await statementOf(done.data.run_id)).toEqual(['hold', 'settlement']);
  });

  it('a client that disconnects mid-stream is charged once: one hold, one settlement', async () => {
    await setBalance(10_000);
    const controller = new AbortController();
    let runId = '';
    let firstText = '';
    for await (const e of sse(`${p.url}/v1/runs`, streamRunInit(`[slow] ${TICKET}`, controller.signal))) {
      if (e.event === 'run.started') runId = e.data.run_id;
      if (e.event === 'output') {
        firstText = e.data.text;
        break;
      }
    }
    // Leaving the loop cancelled the body; aborting closes the connection for good.
    controller.abort();
    expect(firstText).toBe('## Ticket triage: ');
    await settled(runId);
    const row = await until('run recorded', async () => {
      const r = await p.clients.db('runs').where('id', runId).first();
      return r?.status !== 'running' ? r : null;
    });
    expect(row.status).toBe('succeeded');
    expect(await statementOf(runId)).toEqual(['hold', 'settlement']);
    const balance = await p.clients.ledger.balance(walletId);
    expect(balance.available).toBe(9000);
    expect(balance.debitsPending).toBe(0);
  });

  it('a worker killed mid-stream: another worker finishes, another API replica streams it, one hold and one settlement', async () => {
    await setBalance(10_000);
    // Replica B: a second API app over the same database, starting runs on a queue only the spawned workers serve.
    const suffix = `-kill${Date.now()}`;
    const logger = createLogger('replica-b', 'warn');
    const replica = await createRouters({
      config: p.config, db: p.clients.db, temporal: p.temporal, logger, ledger: p.clients.ledger, saleor: p.clients.saleor, artifacts: p.clients.artifacts,
      validateFlow: (flow) => validateFlow(flow).problems, webhookVerifier: createSaleorWebhookVerifier({ saleorApiUrl: p.config.SALEOR_API_URL }),
      taskQueues: { provisioning: p.taskQueues.provisioning, runs: `runs${suffix}` },
    });
    const server = createApp({ logger, webOrigin: p.config.WEB_ORIGIN, probes: {}, routers: replica.routers }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const replicaUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The first worker's runtime streams the answer's first words, then nothing: it dies mid-stream.
    // (Registering the flow goes through to the real Langflow.)
    const stalled = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        if (req.url?.includes('stream=true')) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(`${JSON.stringify({ event: 'token', data: { chunk: '## Ticket triage: ' } })}\n\n`);
          return;
        }
        const upstream = await fetch(`${p.config.LANGFLOW_URL}${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body: chunks.length ? Buffer.concat(chunks) : undefined });
        res.writeHead(upstream.status, { 'content-type': 'application/json' });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      });
    });
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
    const runsWorker = (langflowUrl: string) =>
      spawnWorker('runs', { config: p.config, queueSuffix: suffix, env: { LANGFLOW_URL: langflowUrl, LANGFLOW_RUN_TIMEOUT_MS: '30000' } });
    const first = runsWorker(`http://127.0.0.1:${(stalled.address() as AddressInfo).port}`);
    let second: ReturnType<typeof runsWorker> | undefined;
    try {
      const events = [];
      for await (const e of sse(`${replicaUrl}/v1/runs`, streamRunInit(TICKET))) {
        events.push(e);
        if (e.event === 'output' && !second) {
          first.kill();
          second = runsWorker(p.config.LANGFLOW_URL);
        }
      }
      expect(events.map((e) => e.event).slice(0, 2)).toEqual(['run.started', 'output']);
      expect(events[1]!.data.text).toBe('## Ticket triage: ');
      const done = events.at(-1)!;
      expect(done.event).toBe('run.completed');
      expect(done.data).toMatchObject({ status: 'succeeded', credits_charged_mc: 1000 });
      expect(events.filter((e) => e.event === 'output').map((e) => e.data.text).join('')).toBe(done.data.output);
      await settled(done.data.run_id);
      expect(await statementOf(done.data.run_id)).toEqual(['hold', 'settlement']);
      const balance = await p.clients.ledger.balance(walletId);
      expect(balance.available).toBe(9000);
      expect(balance.debitsPending).toBe(0);
    } finally {
      first.kill();
      second?.kill();
      stalled.closeAllConnections();
      stalled.close();
      await new Promise((r) => server.close(r));
      await replica.close();
    }
  }, 150_000);
});
