// The run path against real PostgreSQL, the Temporal dev server and real
// Langflow: output and exact debit, overdraft under 200 concurrent runs,
// runtime timeout, a worker killed mid-run, rate limits, idempotent replays,
// and the demo messages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createRunActivities } from '../../activities/runs';
import { runWorkflowId, type RunRequest } from '../../core/runs/contract';
import { hangOnDemand, startHangingServer, type HangingServer } from '../support/hanging-runtime';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';
import { until } from '../support/until';
import { spawnWorker } from '../support/worker-process';

let p: TestPlatform;
let token: string;
let key: string;
let orgId: string;
let walletId: string;
let hang: HangingServer;


const run = (input: string, headers: Record<string, string> = {}, agent = 'ticket-triage') =>
  p.call('POST', '/v1/runs', { headers: { authorization: `Bearer ${key}`, ...headers }, body: { agent, input } });

/** Sets the wallet's available balance to exactly `mc` through a support adjustment. */
async function setBalance(mc: number, support: string) {
  const current = (await p.call('GET', '/v1/wallet', { token })).body.available_mc as number;
  if (current === mc) return;
  const r = await p.call('POST', `/v1/support/wallets/${walletId}/adjustments`, { token: support, body: { amount_mc: mc - current, reason: 'test setup' } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
}

beforeAll(async () => {
  // A runtime that never answers, for inputs that ask for it: the real client's deadline must fire.
  hang = await startHangingServer();
  p = await startPlatform({
    // Long enough for 50 queued runs on one Langflow worker, short enough for the timeout test.
    configOverrides: { LANGFLOW_RUN_TIMEOUT_MS: '12000', RUN_SYNC_WAIT_MS: '30000' },
    runActivities: ({ clients, config }) => {
      const runtime = hangOnDemand(clients.runtime, hang.url, config);
      return createRunActivities({ ...clients, runtime });
    },
  });
  const [buyer, support] = await Promise.all([loginAs('buyer@cmp.local'), loginAs('support@cmp.local')]);
  token = buyer.accessToken;
  supportToken = support.accessToken;
  const ws = (await p.call('POST', '/v1/orgs/auto', { token })).body;
  orgId = ws.org.id;
  walletId = ws.wallet_id;
  const sub = await p.call('POST', '/v1/instances', { token, body: { offering: 'ticket-triage', plan: 'free' } });
  await until('instance active', async () => (await p.call('GET', `/v1/orders/${sub.body.order_id}`, { token })).body.status === 'fulfilled', 90_000);
  key = (await p.call('POST', '/v1/api-keys', { token, body: { name: 'runs' } })).body.secret;
  // Generous limits for the load test; the rate-limit test lowers them.
  await p.clients.db('plans').update({ rate_limit_per_minute: 10_000, org_rate_limit_per_minute: 10_000 });
}, 240_000);
afterAll(async () => {
  await p?.close();
  hang?.close();
});

let supportToken: string;

describe('POST /v1/runs', () => {
  it("returns the flow's output and debits exactly the charged credits; the statement shows hold and settlement", async () => {
    await setBalance(10_000, supportToken);
    const r = await run('Our production API is down for all customers, every request returns 503 since 20 minutes!');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.output).toMatch(/P1/);
    expect(r.body.credits_charged_mc).toBe(1000);
    expect(r.body.balance_mc).toBe(9000);
    const statement = (await p.call('GET', `/v1/wallets/${walletId}/transfers`, { token })).body.items;
    expect(statement.filter((e: { run_id: string }) => e.run_id === r.body.run_id).map((e: { label: string }) => e.label).sort()).toEqual(['hold', 'settlement']);
  });

  it('200 concurrent runs on a wallet that affords 50: 50 succeed, the rest get 402, nothing negative, no hold left', async () => {
    await setBalance(50_000, supportToken);
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => run(`Ticket ${i}: I cannot log in, password reset link never arrives.`)));
    // A run that outlasts the bounded wait answers 202; follow it to its end.
    const results = await Promise.all(answers.map(async (r) => {
      if (r.status !== 202) return r;
      const done = await until('run finished', async () => {
        const g = await p.call('GET', `/v1/runs/${r.body.run_id}`, { headers: { authorization: `Bearer ${key}` } });
        return g.body.status !== 'running' ? g : null;
      }, 120_000);
      return { ...done, status: done.body.status === 'succeeded' ? 200 : done.body.status === 'rejected' ? 402 : 500 };
    }));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 402);
    expect(ok.length + refused.length, JSON.stringify(results.find((r) => r.status !== 200 && r.status !== 402)?.body)).toBe(200);
    expect(ok.length).toBe(50);
    const problem = answers.find((r) => r.status === 402)!;
    expect(problem.body).toMatchObject({ required_mc: 1000 });
    expect(problem.headers.get('content-type')).toContain('application/problem+json');
    const balance = await p.clients.ledger.balance(walletId);
    expect(balance.available).toBe(0);
    expect(balance.debitsPending).toBe(0);
    expect((await p.clients.ledger.checkInvariants()).violations).toEqual([]);
  });

  it('80 runs the wallet cannot cover (POST /v1/runs and the OpenAI route): each a 402 from the pre-check, not one workflow started', async () => {
    await setBalance(999, supportToken); // the run's hold is 1000
    const startedAfter = new Date().toISOString();
    const runsStarted = async () => {
      const ids: string[] = [];
      for await (const w of p.temporal.workflow.list({ query: `TaskQueue = '${p.taskQueues.runs}' AND StartTime >= '${startedAfter}'` })) ids.push(w.workflowId);
      return ids;
    };
    const chat = (i: number) => p.call('POST', '/v1/chat/completions', {
      headers: { authorization: `Bearer ${key}` }, body: { model: 'ticket-triage', messages: [{ role: 'user', content: `Ticket ${i}: refund please` }] },
    });
    const [viaRuns, viaChat] = await Promise.all([
      Promise.all(Array.from({ length: 60 }, (_, i) => run(`Ticket ${i}: refund please`))),
      Promise.all(Array.from({ length: 20 }, (_, i) => chat(i))),
    ]);
    for (const r of viaRuns) {
      expect(r.status, JSON.stringify(r.body)).toBe(402);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body).toMatchObject({ available_mc: 999, required_mc: 1000 });
      expect(r.body.type).toMatch(/insufficient-credits$/);
    }
    for (const r of viaChat) expect(r.status, JSON.stringify(r.body)).toBe(402);
    // Visibility lags the server: one run that can be paid starts afterwards, and once it is listed, nothing else is.
    await setBalance(1000, supportToken);
    const paid = await run('Ticket 81: refund please');
    expect(paid.status, JSON.stringify(paid.body)).toBe(200);
    const listed = await until('the paid run listed', async () => ((await runsStarted()).length > 0 ? runsStarted() : null), 30_000);
    expect(listed).toEqual([runWorkflowId(paid.body.run_id)]);
    expect((await p.clients.ledger.balance(walletId)).debitsPending).toBe(0);
  });

  it('runtime timeout: 504, the hold released, nothing charged', async () => {
    await setBalance(5000, supportToken);
    const r = await run('[hang] please triage');
    expect(r.status).toBe(504);
    expect(r.body.type).toMatch(/upstream-timeout$/);
    const balance = await p.clients.ledger.balance(walletId);
    expect(balance.available).toBe(5000);
    expect(balance.debitsPending).toBe(0);
  });

  it('replays an Idempotency-Key: same run, charged once', async () => {
    await setBalance(5000, supportToken);
    const headers = { 'Idempotency-Key': randomUUID() };
    const first = await run('Feature request: CSV export please, not urgent', headers);
    const again = await run('Feature request: CSV export please, not urgent', headers);
    expect(again.body.run_id).toBe(first.body.run_id);
    expect((await p.clients.ledger.balance(walletId)).available).toBe(4000);
  });

  it('answers 404 for an unknown agent or one the key may not use, 401 for a bad key', async () => {
    expect((await run('hi', {}, 'no-such-agent')).status).toBe(404);
    expect((await run('hi', {}, 'faq-answerer')).status).toBe(404);
    expect((await p.call('POST', '/v1/runs', { headers: { authorization: 'Bearer cmp_live_nope' }, body: { agent: 'ticket-triage', input: 'x' } })).status).toBe(401);
  });

  it('rate limits per key from the plan, with RateLimit headers, shared through PostgreSQL', async () => {
    await setBalance(20_000, supportToken);
    await p.clients.db('plans').update({ rate_limit_per_minute: 3 });
    try {
      const limitedKey = (await p.call('POST', '/v1/api-keys', { token, body: { name: 'limited' } })).body.secret;
      // Windows are whole minutes: four runs that straddle a minute's end count in two windows.
      const msLeft = 60_000 - (Date.now() % 60_000);
      if (msLeft < 20_000) await new Promise((r) => setTimeout(r, msLeft + 200));
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        const r = await p.call('POST', '/v1/runs', { headers: { authorization: `Bearer ${limitedKey}` }, body: { agent: 'ticket-triage', input: `refund please ${i}` } });
        statuses.push(r.status);
        if (r.status === 429) {
          expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
          expect(r.headers.get('ratelimit')).toMatch(/remaining=0/);
        }
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await p.clients.db('plans').update({ rate_limit_per_minute: 10_000 });
    }
  });
});

describe('worker killed mid-run', () => {
  it('finishRun retried after its record failed settles (or releases) the hold once and records the run', async () => {
    await setBalance(5000, supportToken);
    // The run store fails each run's first record, after the ledger step has committed: the retry repeats both.
    const failedOnce = new Set<string>();
    const runs = new Proxy(p.clients.runs, {
      get: (store, prop) => (prop === 'recordFinish'
        ? async (row: Parameters<typeof store.recordFinish>[0]) => {
          if (!failedOnce.has(row.id)) {
            failedOnce.add(row.id);
            throw new Error('connection terminated unexpectedly');
          }
          return store.recordFinish(row);
        }
        : Reflect.get(store, prop, store)),
    });
    const activities = createRunActivities({ ...p.clients, runs });
    const instance = (await p.call('GET', '/v1/instances', { token })).body.items[0];
    const versionId = (await p.clients.db('instances').where('id', instance.id).first()).offering_version_id;
    const request = (): RunRequest => ({
      runId: randomUUID(), payer: { kind: 'org', orgId }, offeringId: instance.offering_id, instanceId: instance.id, versionId, apiKeyId: null,
      input: 'Billing: I was charged twice', holdMc: 1000, pricePerRunMc: 600, pricePer1kTokensMc: 0, timeoutMs: 20_000,
    });

    const paid = request();
    expect(await activities.placeHold({ runId: paid.runId, payer: paid.payer, holdMc: 1000, timeoutMs: 20_000 })).toEqual({ ok: true });
    const succeeded = { status: 'succeeded', runId: paid.runId, output: 'ok', chargedMc: 600, balanceMc: 0, latencyMs: 5, runtimeLatencyMs: 5, usage: null } as const;
    await expect(activities.finishRun({ req: paid, outcome: succeeded })).rejects.toThrow();
    expect(await activities.finishRun({ req: paid, outcome: succeeded })).toEqual({ balanceMc: 4400 });

    const failed = request();
    expect(await activities.placeHold({ runId: failed.runId, payer: failed.payer, holdMc: 1000, timeoutMs: 20_000 })).toEqual({ ok: true });
    const outcome = { status: 'failed', runId: failed.runId, latencyMs: 0, error: { type: 'RuntimeRequestError', message: 'Langflow answered 500' } } as const;
    await expect(activities.finishRun({ req: failed, outcome })).rejects.toThrow();
    expect(await activities.finishRun({ req: failed, outcome })).toEqual({ balanceMc: null });

    const kinds = async (runId: string) => (await p.clients.db('transfers').where('pending_id', `hold:${runId}`).orWhere('id', `hold:${runId}`)).map((t) => t.kind).sort();
    expect(await kinds(paid.runId)).toEqual(['pending', 'post_pending']);
    expect(await kinds(failed.runId)).toEqual(['pending', 'void_pending']);
    const rows = await p.clients.db('runs').whereIn('id', [paid.runId, failed.runId]).orderBy('status', 'desc');
    expect(rows.map((r) => [r.status, Number(r.cost_mc)])).toEqual([['succeeded', 600], ['failed', 0]]);
    const balance = await p.clients.ledger.balance(walletId);
    expect(balance.available).toBe(4400);
    expect(balance.debitsPending).toBe(0);
  });

  it('the hold is settled exactly once or released, never both, never neither', async () => {
    await setBalance(5000, supportToken);
    // The first worker's runtime answers only after 5 s, so it dies mid-run.
    const slow = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => setTimeout(async () => {
        const upstream = await fetch(`${p.config.LANGFLOW_URL}${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body: chunks.length ? Buffer.concat(chunks) : undefined });
        res.writeHead(upstream.status, { 'content-type': 'application/json' });
        res.end(Buffer.from(await upstream.arrayBuffer()));
      }, 5000));
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const suffix = `-kill${Date.now()}`;
    const runsWorker = (langflowUrl: string) =>
      spawnWorker('runs', { config: p.config, queueSuffix: suffix, env: { LANGFLOW_URL: langflowUrl, LANGFLOW_RUN_TIMEOUT_MS: '20000' } });
    const first = runsWorker(`http://127.0.0.1:${(slow.address() as AddressInfo).port}`);
    const instance = (await p.call('GET', '/v1/instances', { token })).body.items[0];
    const runId = randomUUID();
    const req: RunRequest = {
      runId, payer: { kind: 'org', orgId }, offeringId: instance.offering_id, instanceId: instance.id,
      versionId: (await p.clients.db('instances').where('id', instance.id).first()).offering_version_id, apiKeyId: null,
      input: 'Billing: I was charged twice', holdMc: 1000, pricePerRunMc: 1000, pricePer1kTokensMc: 0, timeoutMs: 20_000,
    };
    const handle = await p.temporal.workflow.start('runWithCreditHold', { workflowId: runWorkflowId(runId), taskQueue: `runs${suffix}`, args: [req] });
    await until('hold placed', async () => (await p.clients.db('transfers').where('id', `hold:${runId}`).first()) ?? null, 60_000);
    first.kill();
    slow.close();
    const second = runsWorker(p.config.LANGFLOW_URL);
    try {
      const outcome = await handle.result();
      expect(outcome.status).toBe('succeeded');
    } finally {
      second.kill();
    }
    const transfers = await p.clients.db('transfers').where('run_id', runId).orWhere('pending_id', `hold:${runId}`);
    const kinds = transfers.map((t) => t.kind).sort();
    expect(kinds).toEqual(['pending', 'post_pending']);
    const balance = await p.clients.ledger.balance(walletId);
    expect(balance.available).toBe(4000);
    expect(balance.debitsPending).toBe(0);
  }, 120_000);
});

describe('demo messages', () => {
  it('gives a visitor 5 free messages; the 6th is refused with a sign-in hint; clearing the cookie gives none back', async () => {
    let cookie = '';
    const demo = async (c = cookie) => {
      const res = await fetch(`${p.url}/v1/demo/runs`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...(c ? { cookie: c } : {}) },
        body: JSON.stringify({ agent: 'faq-answerer', input: 'How do API keys work?' }),
      });
      const set = res.headers.get('set-cookie');
      if (set) cookie = set.split(';')[0]!;
      return { status: res.status, body: (await res.json()) as any };
    };
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await demo());
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((a) => a.body.demo_messages_left)).toEqual([4, 3, 2, 1, 0]);
    expect(answers[0]!.body.output.toLowerCase()).toContain('api key');
    const sixth = await demo();
    expect(sixth.status).toBe(402);
    expect(sixth.body).toMatchObject({ demo_messages_left: 0 });
    expect(sixth.body.sign_in_url).toContain('/auth/login');
    const cleared = await demo('');
    expect(cleared.status).toBe(402);
  });
});
