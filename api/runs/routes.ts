// Calling agents: POST /v1/runs with an API key, GET /v1/runs/{id}, and the
// store's free demo messages (POST /v1/demo/runs). Every run is the durable
// workflow runWithCreditHold; the API waits for its result through
// Update-with-Start up to a bound, else answers 202 with the run id.
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { CatalogStore } from '../../core/catalog/store';
import type { Config } from '../../core/config';
import type { InstanceStore } from '../../core/instances/store';
import { AppError, notFound } from '../../core/errors';
import type { Ledger } from '../../core/ledger';
import { rateLimitHeaders, rateLimited, type RateLimiter } from '../../core/runs/rate-limiter';
import type { DemoVisitorStore, RunStore } from '../../core/runs/store';
import type { TenancyStore } from '../../core/tenancy/store';
import { runOutcomeQuery, runWorkflowId, type RunOutcome, type RunRequest } from '../../core/runs/contract';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { uuid } from '../schemas';
import type { RunStreamHub } from '../../core/runs/run-stream-hub';
import { apiKeyOrUser } from '../middleware/api-key';
import { runOutcomeError, runView } from './outcome';
import { createRunStarter } from './run-starter';
import { answerRunAsStream, unlessStreaming, wantsStream } from './stream-route';

export interface RunRouteDeps {
  api: ApiDefinition;
  temporal: Client;
  ledger: Ledger;
  instances: InstanceStore;
  runs: RunStore;
  demoVisitors: DemoVisitorStore;
  tenancy: TenancyStore;
  limiter: RateLimiter;
  catalog: CatalogStore;
  config: Config;
  taskQueue: string;
  requireApiKey: RequestHandler;
  requireUser: RequestHandler;
  idempotency: RequestHandler;
  /** Where streamed runs' chunks arrive (PostgreSQL LISTEN). */
  streams: RunStreamHub;
}

/** What one demo message costs the visitor's demo wallet. */
export const DEMO_MESSAGE_MC = 1000;
const DEMO_COOKIE = 'cmp_demo';

const runBody = z.object({
  agent: z.string().min(1).max(100).describe('The agent (offering) slug'),
  input: z.string().min(1).max(20_000),
  session_id: z.string().max(200).optional(),
  max_credits: z.number().positive().max(1e9).optional().describe('Cap on what this run may cost, in credits'),
  stream: z.boolean().optional().describe('Answer with Server-Sent Events: run.started, output…, run.completed (also with Accept: text/event-stream)'),
});

const runResultSchema = z
  .object({
    run_id: uuid,
    status: z.enum(['succeeded', 'running', 'failed', 'timed_out', 'rejected']),
    output: z.string().nullable(),
    credits_charged: z.number().nullable(),
    credits_charged_mc: z.number().int().nullable(),
    balance_mc: z.number().int().nullable(),
    latency_ms: z.number().int().nullable(),
    usage: z.object({ input_tokens: z.number().int(), output_tokens: z.number().int() }).nullable(),
  })
  .openapi('Run');

export function createRunRouter(deps: RunRouteDeps): Router {
  const { api, temporal, config, runs, limiter } = deps;
  const router = Router();
  const starter = createRunStarter(deps);
  // Not awaited on the hot path: the workflow writes the finished row either way.
  const recordStart = (run: RunRequest) => void starter.recordStart(run).catch(() => undefined);

  function answer(res: Response, outcome: RunOutcome | null, runId: string, startedAt: number): void {
    const latency = Math.round(performance.now() - startedAt);
    if (!outcome) {
      res.status(202).setHeader('Location', `/v1/runs/${runId}`);
      res.json({ run_id: runId, status: 'running', output: null, credits_charged: null, credits_charged_mc: null, balance_mc: null, latency_ms: latency, usage: null });
      return;
    }
    if (outcome.status !== 'succeeded') throw runOutcomeError(outcome, runId);
    res.json(runView(outcome, latency));
  }

  api.route(router, {
    method: 'post', path: '/v1/runs', summary: 'Run an agent: answers with its output, the credits charged and the balance', tags: ['Runs'], auth: 'apiKey', workspaceRole: 'member',
    use: [deps.requireApiKey, unlessStreaming(deps.idempotency)], idempotent: true,
    body: runBody,
    responses: {
      200: { description: 'The run succeeded (or, streamed, text/event-stream: run.started, output…, run.completed with this Run)', schema: runResultSchema, eventStream: true },
      202: { description: 'Still running after the bounded wait; poll GET /v1/runs/{id}', schema: runResultSchema },
      402: { description: 'Insufficient credits (with balance and required hold)' },
      429: { description: 'Rate limited (RateLimit headers)' },
      504: { description: 'The agent timed out; the hold was released' },
    },
  }, async (req, res, { body }) => {
    const startedAt = performance.now();
    const key = req.apiKey!;
    // The key's own instance if it is restricted to one, else the org's newest active instance of the agent.
    const target = await deps.instances.runTarget(key.orgId, { slug: body.agent, instanceId: key.instanceId });
    if (!target) throw notFound(`Agent ${body.agent} (no active subscription this key may use)`);
    const { decision, run, refusal } = await starter.admit(target, {
      apiKeyId: key.id, input: body.input, sessionId: body.session_id, maxCreditsMc: body.max_credits !== undefined ? Math.floor(body.max_credits * 1000) : undefined,
    });
    if (!decision.allowed) throw rateLimited(decision);
    for (const [h, v] of Object.entries(rateLimitHeaders(decision))) res.setHeader(h, v);
    if (refusal) throw runOutcomeError(refusal, run.runId);
    recordStart(run);
    if (wantsStream(req)) return answerRunAsStream(starter, req, res, run, startedAt);
    answer(res, await starter.execute(run, { waitMs: config.RUN_SYNC_WAIT_MS, startedAt }), run.runId, startedAt);
  });

  async function showRun(req: Request, res: Response): Promise<void> {
    const runId = String(req.params.id);
    if (!uuid.safeParse(runId).success) throw notFound(`Run ${runId}`);
    const orgIds = req.apiKey ? [req.apiKey.orgId] : (await deps.tenancy.membershipsOf(req.user!.id)).map((m) => m.orgId);
    const row = await runs.get(runId, orgIds);
    if (!row) throw notFound(`Run ${runId}`);
    let outcome: RunOutcome | null = null;
    if (row.status === 'running') outcome = await temporal.workflow.getHandle(runWorkflowId(runId)).query(runOutcomeQuery).catch(() => null);
    const status = outcome?.status ?? row.status;
    res.json({
      run_id: runId, status, output: outcome?.status === 'succeeded' ? outcome.output : row.output,
      credits_charged: row.costMc === null ? null : row.costMc / 1000, credits_charged_mc: row.costMc, balance_mc: null, latency_ms: row.latencyMs,
      usage: row.tokensIn === null ? null : { input_tokens: row.tokensIn, output_tokens: row.tokensOut ?? 0 }, error: row.error,
    });
  }
  api.route(router, {
    method: 'get', path: '/v1/runs/:id', summary: 'A run: its status and result', tags: ['Runs'], auth: 'apiKey', workspaceRole: 'member', use: [apiKeyOrUser(deps.requireApiKey, deps.requireUser)],
    params: z.object({ id: z.string().max(64) }),
    responses: { 200: { description: 'The run', schema: runResultSchema.extend({ error: z.unknown().nullable() }) } },
  }, (req, res) => showRun(req, res));

  // Demo messages: no login; a signed cookie names the visitor, whose demo wallet is funded once.
  const ipHash = (req: Request) => createHash('sha256').update(`${config.SIGNING_SECRET}|${req.ip ?? 'unknown'}`).digest('hex');
  const sign = (id: string) => createHmac('sha256', config.SIGNING_SECRET).update(`demo:${id}`).digest('base64url');
  const fromCookie = (req: Request): string | null => {
    const raw = /(?:^|;\s*)cmp_demo=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const [id, mac] = decodeURIComponent(raw ?? '').split('.');
    if (!id || !mac || !uuid.safeParse(id).success) return null;
    const expected = Buffer.from(sign(id));
    const given = Buffer.from(mac);
    return expected.length === given.length && timingSafeEqual(expected, given) ? id : null;
  };

  /** The visitor: from the cookie, else the visitor this address had today (clearing cookies gives nothing), else a new one. */
  async function visitorFor(req: Request, res: Response): Promise<string> {
    const hash = ipHash(req);
    let id = fromCookie(req);
    if (id && !(await deps.demoVisitors.exists(id))) id = null;
    id ??= await deps.demoVisitors.forAddress(hash);
    res.cookie(DEMO_COOKIE, `${id}.${sign(id!)}`, { httpOnly: true, sameSite: 'lax', secure: config.NODE_ENV === 'production', maxAge: 30 * 86400_000, path: '/' });
    return id!;
  }

  async function fundDemoWallet(visitorId: string): Promise<string> {
    const [wallet, funding] = await Promise.all([deps.ledger.ensureDemoWallet(visitorId), deps.ledger.ensureSystemAccount('demo_funding')]);
    await deps.ledger.transfer({
      id: `demo-fund:${visitorId}`, debitAccountId: funding.id, creditAccountId: wallet.id,
      amount: config.DEMO_MESSAGES_PER_VISITOR * DEMO_MESSAGE_MC, reason: 'demo_grant',
    });
    return wallet.id;
  }

  api.route(router, {
    method: 'get', path: '/v1/demo', summary: 'How many free demo messages this visitor has left', tags: ['Demo'], auth: 'public', workspaceRole: null,
    responses: { 200: { description: 'Remaining messages', schema: z.object({ demo_messages_left: z.number().int(), demo_messages_total: z.number().int() }) } },
  }, async (req, res) => {
    const wallet = await fundDemoWallet(await visitorFor(req, res));
    res.json({ demo_messages_left: Math.floor((await deps.ledger.balance(wallet)).available / DEMO_MESSAGE_MC), demo_messages_total: config.DEMO_MESSAGES_PER_VISITOR });
  });

  api.route(router, {
    method: 'post', path: '/v1/demo/runs', summary: `Try an agent without signing in (${config.DEMO_MESSAGES_PER_VISITOR} free messages per visitor)`, tags: ['Demo'], auth: 'public', workspaceRole: null,
    body: z.object({ agent: z.string().min(1).max(100), input: z.string().min(1).max(4000), session_id: z.string().max(200).optional() }),
    responses: {
      200: { description: 'The agent answered', schema: z.object({ run_id: uuid, output: z.string(), demo_messages_left: z.number().int(), latency_ms: z.number().int() }) },
      402: { description: 'No demo messages left: sign in to continue' },
      429: { description: 'Too many demo messages from this address' },
    },
  }, async (req, res, { body }) => {
    const startedAt = performance.now();
    const offering = await deps.catalog.getBySlug(body.agent);
    if (!offering.demoEnabled) throw notFound(`Demo of ${body.agent}`);
    const version = await deps.catalog.latestPublishedVersion(offering.id);
    if (!version) throw notFound(`Agent ${body.agent}`);
    const ip = ipHash(req);
    const decision = await limiter.consume([{ key: `ip:${ip}`, limit: 20 }]);
    if (!decision.allowed) throw rateLimited(decision);
    if ((await runs.demoRunsToday(ip)) >= config.DEMO_MESSAGES_PER_IP_PER_DAY) throw rateLimited({ ...decision, allowed: false, exceeded: `ip:${ip}`, resetSeconds: 3600 });
    const visitorId = await visitorFor(req, res);
    await fundDemoWallet(visitorId);
    const run: RunRequest = {
      runId: randomUUID(), payer: { kind: 'demo', visitorId }, offeringId: offering.id, instanceId: null, versionId: version.id, apiKeyId: null,
      input: body.input, sessionId: body.session_id, holdMc: DEMO_MESSAGE_MC, pricePerRunMc: DEMO_MESSAGE_MC, pricePer1kTokensMc: 0,
      timeoutMs: config.LANGFLOW_RUN_TIMEOUT_MS,
    };
    recordStart(run);
    const outcome = await starter.execute(run, { waitMs: config.RUN_SYNC_WAIT_MS, startedAt });
    if (outcome?.status === 'rejected') {
      throw new AppError('insufficient-credits', 'No demo messages left', `You have used your ${config.DEMO_MESSAGES_PER_VISITOR} free messages. Sign in to get ${config.STARTER_CREDITS} free credits and keep going.`, {
        demo_messages_left: 0, sign_in_url: `${config.WEB_ORIGIN}/auth/login?return_to=/store/${offering.slug}`,
      });
    }
    if (!outcome || outcome.status !== 'succeeded') {
      answer(res, outcome, run.runId, startedAt);
      return;
    }
    res.json({ run_id: run.runId, output: outcome.output, demo_messages_left: Math.floor(outcome.balanceMc / DEMO_MESSAGE_MC), latency_ms: Math.round(performance.now() - startedAt) });
  });

  return router;
}
