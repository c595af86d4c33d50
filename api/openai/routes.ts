// OpenAI-compatible endpoints, so any tool that speaks the OpenAI API (its
// SDKs, LangChain, Open WebUI, editors' plugins) calls CMP agents with a CMP
// API key: GET /v1/models lists the agents the key may run (id = agent slug),
// POST /v1/chat/completions runs one. A completion is an ordinary run —
// admitted under the plan's rate limits, then runWithCreditHold: hold, run,
// settle, record — with the conversation's last user message as its input.
import type { Client } from '@temporalio/client';
import { Router, type RequestHandler, type Response } from 'express';
import type { Config } from '../../core/config';
import type { RateLimiter } from '../../core/runs/rate-limiter';
import type { RunStore } from '../../core/runs/store';
import { notFound, validation } from '../../core/errors';
import type { Ledger } from '../../core/ledger';
import type { InstanceStore } from '../../core/instances/store';
import type { RunStreamHub } from '../../core/runs/run-stream-hub';
import { rateLimitHeaders, rateLimited } from '../../core/runs/rate-limiter';
import type { RunOutcome, RunRequest } from '../../core/runs/contract';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { runOutcomeError } from '../runs/outcome';
import { createRunStarter, type RunStarter } from '../runs/run-starter';
import { answerWithEventStream, writeEvent } from '../runs/streaming';
import { openAiError, openAiErrorHandler } from './errors';

export interface OpenAiRouteDeps {
  api: ApiDefinition;
  temporal: Client;
  config: Config;
  instances: InstanceStore;
  runs: RunStore;
  ledger: Pick<Ledger, 'walletAvailable'>;
  limiter: RateLimiter;
  taskQueue: string;
  streams: RunStreamHub;
  requireApiKey: RequestHandler;
}

/** Header naming the conversation, for clients that cannot set the body's `user` field. */
export const SESSION_HEADER = 'x-session-id';
export const OPENAI_PATHS = ['/v1/models', '/v1/chat/completions'];

const errorSchema = z
  .object({ error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }) })
  .openapi('OpenAIError');

const modelSchema = z.object({ id: z.string().describe('The agent slug'), object: z.literal('model'), created: z.number().int(), owned_by: z.string() }).openapi('OpenAIModel');

const contentPart = z.object({ type: z.string(), text: z.string().optional() }).passthrough();
const chatRequest = z
  .object({
    model: z.string().min(1).max(100).describe('The agent slug (see GET /v1/models)'),
    messages: z
      .array(z.object({ role: z.string(), content: z.union([z.string(), z.array(contentPart), z.null()]).optional() }).passthrough())
      .min(1)
      .max(1000),
    stream: z.boolean().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullable().optional(),
    user: z.string().max(200).optional().describe('Names the conversation: the run’s session (so is the X-Session-Id header)'),
  })
  // Sampling parameters (temperature, max_tokens, …) are accepted and ignored: an agent decides its own.
  .passthrough()
  .openapi('ChatCompletionRequest');

const usageSchema = z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() });
const cmpSchema = z
  .object({ run_id: z.string(), credits_charged: z.number(), credits_charged_mc: z.number().int(), balance_mc: z.number().int() })
  .describe('What the run cost (CMP extension)');
const completionSchema = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(z.object({
      index: z.number().int(),
      message: z.object({ role: z.literal('assistant'), content: z.string(), refusal: z.null() }),
      finish_reason: z.literal('stop'),
      logprobs: z.null(),
    })),
    usage: usageSchema.optional().describe('Present when the agent reports tokens'),
    cmp: cmpSchema,
  })
  .openapi('ChatCompletion');

/** The conversation's last user message, as plain text. */
function lastUserInput(messages: z.infer<typeof chatRequest>['messages']): string {
  const message = [...messages].reverse().find((m) => m.role === 'user');
  const content = message?.content;
  const text = typeof content === 'string' ? content : (content ?? []).filter((p) => p.type === 'text' && typeof p.text === 'string').map((p) => p.text).join('\n');
  if (!text.trim()) throw validation('The conversation needs a user message with text', [{ path: 'messages', message: 'no user message with text' }]);
  if (text.length > 20_000) throw validation('The last user message is too long (20 000 characters at most)', [{ path: 'messages', message: 'too long' }]);
  return text;
}

const usageOf = (outcome: Extract<RunOutcome, { status: 'succeeded' }>) =>
  outcome.usage ? { prompt_tokens: outcome.usage.inputTokens, completion_tokens: outcome.usage.outputTokens, total_tokens: outcome.usage.inputTokens + outcome.usage.outputTokens } : undefined;
const cmpOf = (outcome: Extract<RunOutcome, { status: 'succeeded' }>) => ({
  run_id: outcome.runId, credits_charged: outcome.chargedMc / 1000, credits_charged_mc: outcome.chargedMc, balance_mc: outcome.balanceMc,
});

export function createOpenAiRouter(deps: OpenAiRouteDeps): Router {
  const { api } = deps;
  const router = Router();
  const starter = createRunStarter(deps);
  const tags = ['OpenAI-compatible'];
  const errors = (codes: number[]) => Object.fromEntries(codes.map((c) => [c, { description: `Error (OpenAI's error shape)`, schema: errorSchema }]));

  api.route(router, {
    method: 'get', path: '/v1/models', summary: 'The agents this API key may run, as OpenAI models (id = agent slug)', tags, auth: 'apiKey', workspaceRole: 'member', use: [deps.requireApiKey],
    responses: { 200: { description: 'Models', schema: z.object({ object: z.literal('list'), data: z.array(modelSchema) }) }, ...errors([400, 401, 403, 404, 500]) },
  }, async (req, res) => {
    const key = req.apiKey!;
    const active = (await deps.instances.list(key.orgId)).filter((i) => i.status === 'active' && (!key.instanceId || i.id === key.instanceId));
    const seen = new Set<string>();
    const data = active.filter((i) => !seen.has(i.offeringSlug) && seen.add(i.offeringSlug)).map((i) => ({
      id: i.offeringSlug, object: 'model' as const, created: Math.floor(Date.parse(i.activatedAt ?? i.createdAt) / 1000), owned_by: 'cmp',
    }));
    res.json({ object: 'list', data });
  });

  api.route(router, {
    method: 'post', path: '/v1/chat/completions',
    summary: 'Run an agent through the OpenAI chat completions API (model = agent slug; the last user message is the input)', tags, auth: 'apiKey', workspaceRole: 'member',
    use: [deps.requireApiKey],
    body: chatRequest,
    responses: {
      200: { description: 'The completion; with stream: true, text/event-stream of chat.completion.chunk ending with data: [DONE]', schema: completionSchema, eventStream: true },
      ...errors([400, 401, 402, 403, 404, 429, 500, 502, 504]),
    },
  }, async (req, res, { body }) => {
    const startedAt = performance.now();
    const key = req.apiKey!;
    const input = lastUserInput(body.messages);
    const target = await deps.instances.runTarget(key.orgId, { slug: body.model, instanceId: key.instanceId });
    if (!target) throw notFound(`The model ${body.model} (an agent this key may run: see GET /v1/models)`);
    const sessionId = req.header(SESSION_HEADER) ?? body.user;
    const { decision, run, refusal } = await starter.admit(target, { apiKeyId: key.id, input, sessionId });
    if (!decision.allowed) throw rateLimited(decision);
    for (const [h, v] of Object.entries(rateLimitHeaders(decision))) res.setHeader(h, v);
    if (refusal) throw runOutcomeError(refusal, run.runId);
    void starter.recordStart(run).catch(() => undefined);
    const id = `chatcmpl-${run.runId}`;
    const created = Math.floor(Date.now() / 1000);

    if (body.stream) {
      await streamCompletion(res, starter, run, startedAt, { id, created, model: body.model, includeUsage: body.stream_options?.include_usage === true });
      return;
    }
    // OpenAI clients expect the answer, not a 202: wait for the run to end (its own deadline bounds the wait).
    const outcome = (await starter.execute(run, { startedAt }))!;
    if (outcome.status !== 'succeeded') throw runOutcomeError(outcome, run.runId);
    res.setHeader('X-Run-Id', run.runId);
    res.setHeader('OpenAI-Processing-Ms', String(Math.round(performance.now() - startedAt)));
    res.json({
      id, object: 'chat.completion', created, model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: outcome.output, refusal: null }, finish_reason: 'stop', logprobs: null }],
      ...(usageOf(outcome) ? { usage: usageOf(outcome) } : {}), system_fingerprint: null, cmp: cmpOf(outcome),
    });
  });

  router.use(OPENAI_PATHS, openAiErrorHandler);
  return router;
}

/**
 * chat.completion.chunk events: the role first (once the hold is placed), the content as it comes, a finish chunk
 * (its `cmp` object as in the JSON answer, plus `stream_diverged: true` when a retried step answered differently from
 * what was streamed), a usage chunk if asked for, [DONE].
 */
function streamCompletion(
  res: Response,
  starter: RunStarter,
  run: RunRequest,
  startedAt: number,
  meta: { id: string; created: number; model: string; includeUsage: boolean },
): Promise<void> {
  const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) => ({
    id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model, system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra,
  });
  return answerWithEventStream(res, starter, run, startedAt, {
    started: () => writeEvent(res, chunk({ role: 'assistant', content: '' }, null)),
    text: (t) => writeEvent(res, chunk({ content: t }, null)),
    // After the first byte the status is sent: OpenAI's SDKs raise an `error` object found in the stream.
    error: (error) => writeEvent(res, openAiError(error).body),
    done: (outcome, diverged) => {
      writeEvent(res, chunk({}, 'stop', { cmp: { ...cmpOf(outcome), ...(diverged ? { stream_diverged: true } : {}) } }));
      if (meta.includeUsage) writeEvent(res, { ...chunk({}, null), choices: [], usage: usageOf(outcome) ?? null });
      writeEvent(res, '[DONE]');
    },
  });
}
