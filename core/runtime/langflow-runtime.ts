// AgentRuntime over Langflow's REST API (1.5+: every call carries x-api-key).
//   GET  /health_check                 readiness
//   GET  /api/v1/flows/?header_flows…  find a flow by endpoint name or name
//   POST /api/v1/flows/                create; PATCH /api/v1/flows/{id} update
//   POST /api/v1/run/{id|endpoint}     run; answer at outputs[0].outputs[0].results.message.text
//   POST /api/v1/run/{id}?stream=true  the same run as a stream of `{"event", "data"}` JSON objects separated by
//                                      blank lines: `token` pieces (flows whose model streams), `add_message`,
//                                      `error`, and `end` carrying the whole run response
import { createHash } from 'node:crypto';
import type { Config } from '../config';
import {
  RuntimeRequestError,
  RuntimeUnavailableError,
  type AgentRuntime,
  type EnsureFlowInput,
  type EnsureFlowResult,
  type FlowExport,
  type RunInput,
  type RunOptions,
  type RunResult,
  type RuntimeHealth,
  type TokenUsage,
} from './agent-runtime';
import { createHttpClient, type HttpResponse } from './http-json';

export interface LangflowRuntimeOptions {
  url: string;
  apiKey: string;
  /** Default deadline of a run. */
  runTimeoutMs: number;
  /** Deadline of registry calls (health, list, create, update). */
  adminTimeoutMs?: number;
}

export function langflowOptionsFromConfig(config: Pick<Config, 'LANGFLOW_URL' | 'LANGFLOW_API_KEY' | 'LANGFLOW_RUN_TIMEOUT_MS'>): LangflowRuntimeOptions {
  return { url: config.LANGFLOW_URL, apiKey: config.LANGFLOW_API_KEY, runTimeoutMs: config.LANGFLOW_RUN_TIMEOUT_MS };
}

interface FlowHeader {
  id: string;
  name: string;
  endpoint_name?: string | null;
}

export class LangflowRuntime implements AgentRuntime {
  private readonly http = createHttpClient();
  private readonly base: string;
  private readonly adminTimeoutMs: number;

  constructor(private readonly opts: LangflowRuntimeOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.adminTimeoutMs = opts.adminTimeoutMs ?? 15_000;
  }

  async health(opts: { timeoutMs?: number } = {}): Promise<RuntimeHealth> {
    const t0 = performance.now();
    try {
      const res = await this.call('GET', '/health_check', undefined, opts.timeoutMs ?? 5_000, 'Langflow health check');
      const body = res.body as { status?: string } | undefined;
      return { ok: res.status === 200 && body?.status === 'ok', latencyMs: performance.now() - t0, detail: body ?? res.text };
    } catch (err) {
      return { ok: false, latencyMs: performance.now() - t0, detail: (err as Error).message };
    }
  }

  async ensureFlow(input: EnsureFlowInput): Promise<EnsureFlowResult> {
    const wanted = {
      name: input.name,
      description: input.description ?? input.flow.description ?? null,
      endpoint_name: input.endpointName,
      data: input.flow.data,
    };
    // A flow registered before ids were derived (or renamed to our endpoint by hand) is found by name and kept.
    const existing = await this.findFlow(input.endpointName, input.name);
    if (existing) return this.updateIfChanged(existing.id, wanted);
    // Concurrent calls for one endpoint all create under the same id, so at most one create can succeed: Langflow
    // renames a clashing name or endpoint ("FAQ (1)", "faq-1") and keeps both flows, but refuses a second row with
    // one id. The loser finds the winner's flow under that id and carries on from there.
    const flowId = flowIdFor(input.endpointName);
    const created = await this.call('POST', '/api/v1/flows/', { ...wanted, id: flowId, is_component: false }, this.adminTimeoutMs, 'Langflow create flow');
    if (created.status === 201) return { flowId, outcome: 'created' };
    if (created.status >= 400 && created.status < 500) {
      const there = await this.call('GET', `/api/v1/flows/${flowId}`, undefined, this.adminTimeoutMs, 'Langflow read flow');
      if (there.status === 200) return this.updateIfChanged(flowId, wanted);
    }
    throw this.errorFor(created, 'Langflow create flow');
  }

  async run(flowIdOrEndpoint: string, input: RunInput, opts: RunOptions = {}): Promise<RunResult> {
    const what = `Langflow run of ${flowIdOrEndpoint}`;
    const t0 = performance.now();
    const res = await this.call('POST', runPath(flowIdOrEndpoint, false), runBody(input), opts.timeoutMs ?? this.opts.runTimeoutMs, what, opts.signal);
    const latencyMs = performance.now() - t0;
    if (res.status !== 200) throw this.errorFor(res, what);
    return { ...parseRunResponse(res.body, flowIdOrEndpoint), latencyMs, raw: res.body };
  }

  async stream(flowIdOrEndpoint: string, input: RunInput, opts: RunOptions & { onText(text: string): void }): Promise<RunResult> {
    const what = `Langflow streamed run of ${flowIdOrEndpoint}`;
    const t0 = performance.now();
    let buffer = '';
    let streamed = false;
    let result: RunResult | undefined;
    // Events are JSON objects separated by blank lines; a network read may end anywhere in one.
    const onText = (text: string) => {
      buffer += text;
      let cut: number;
      while (!result && (cut = buffer.indexOf('\n\n')) >= 0) {
        const raw = buffer.slice(0, cut).trim();
        buffer = buffer.slice(cut + 2);
        if (!raw) continue;
        let event: { event?: string; data?: Record<string, unknown> };
        try {
          event = JSON.parse(raw) as typeof event;
        } catch (err) {
          throw new RuntimeUnavailableError(`${what}: ${(err as Error).message}`);
        }
        if (event.event === 'token' && typeof event.data?.chunk === 'string') {
          streamed = true;
          opts.onText(event.data.chunk);
        } else if (event.event === 'error') {
          throw new RuntimeRequestError(`${what} failed: ${JSON.stringify(event.data?.error ?? event.data).slice(0, 500)}`);
        } else if (event.event === 'end') {
          const parsed = parseRunResponse(event.data?.result, flowIdOrEndpoint);
          // Components that answer in one piece (the launch agents do) stream no tokens: the whole answer is the one chunk.
          if (!streamed) opts.onText(parsed.text);
          result = { ...parsed, latencyMs: performance.now() - t0, raw: event.data?.result };
        }
      }
      return result !== undefined;
    };
    const res = await this.http.request('POST', new URL(this.base + runPath(flowIdOrEndpoint, true)), {
      headers: { 'x-api-key': this.opts.apiKey, accept: 'text/event-stream' }, body: runBody(input),
      timeoutMs: opts.timeoutMs ?? this.opts.runTimeoutMs, signal: opts.signal, what, onText,
    });
    if (res.status !== 200) throw this.errorFor(res, what);
    if (!result) throw new RuntimeUnavailableError(`${what} ended without its end event`);
    return result;
  }

  async close(): Promise<void> {
    this.http.close();
  }

  private async findFlow(endpointName: string, name: string): Promise<FlowHeader | undefined> {
    const res = await this.call('GET', '/api/v1/flows/?get_all=true&header_flows=true&remove_example_flows=true', undefined, this.adminTimeoutMs, 'Langflow list flows');
    if (res.status !== 200 || !Array.isArray(res.body)) throw this.errorFor(res, 'Langflow list flows');
    const flows = res.body as FlowHeader[];
    return flows.find((f) => f.endpoint_name === endpointName) ?? flows.find((f) => f.name === name);
  }

  private async updateIfChanged(flowId: string, wanted: { name: string; description: string | null; endpoint_name: string; data: FlowExport['data'] }): Promise<EnsureFlowResult> {
    const current = await this.call('GET', `/api/v1/flows/${flowId}`, undefined, this.adminTimeoutMs, 'Langflow read flow');
    if (current.status !== 200) throw this.errorFor(current, 'Langflow read flow');
    const stored = current.body as { name: string; endpoint_name?: string | null; data?: FlowExport['data'] };
    const same =
      stored.name === wanted.name &&
      stored.endpoint_name === wanted.endpoint_name &&
      stored.data !== undefined &&
      flowFingerprint(stored.data) === flowFingerprint(wanted.data);
    if (same) return { flowId, outcome: 'unchanged' };
    const updated = await this.call('PATCH', `/api/v1/flows/${flowId}`, wanted, this.adminTimeoutMs, 'Langflow update flow');
    if (updated.status !== 200) throw this.errorFor(updated, 'Langflow update flow');
    return { flowId, outcome: 'updated' };
  }

  private call(method: string, path: string, body: unknown, timeoutMs: number, what: string, signal?: AbortSignal): Promise<HttpResponse> {
    return this.http.request(method, new URL(this.base + path), { headers: { 'x-api-key': this.opts.apiKey }, body, timeoutMs, signal, what });
  }

  private errorFor(res: HttpResponse, what: string): Error {
    const detail = describeFailure(res);
    // 408 and 429 are the runtime asking us to come back later; other 4xx are our request's fault.
    if (res.status >= 500 || res.status === 408 || res.status === 429 || res.status === 0) {
      return new RuntimeUnavailableError(`${what} failed with HTTP ${res.status}: ${detail}`, res.status);
    }
    return new RuntimeRequestError(`${what} failed with HTTP ${res.status}: ${detail}`, res.status);
  }
}

const runPath = (flowIdOrEndpoint: string, stream: boolean) => `/api/v1/run/${encodeURIComponent(flowIdOrEndpoint)}?stream=${stream}`;

/** The body of a run, streamed or not. */
function runBody(input: RunInput): Record<string, unknown> {
  return {
    input_value: input.input, input_type: 'chat', output_type: 'chat',
    ...(input.tweaks ? { tweaks: input.tweaks } : {}), ...(input.sessionId ? { session_id: input.sessionId } : {}),
  };
}

/**
 * The flow id CMP gives an endpoint: the same for every call, so concurrent creates collide on Langflow's primary key.
 * Version 8 (RFC 9562's custom layout over a SHA-256 of the endpoint name), because Langflow reserves version 5 ids
 * for its public execution histories and refuses them on create.
 */
export function flowIdFor(endpointName: string): string {
  const bytes = createHash('sha256').update(`cmp-flow:${endpointName}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function describeFailure(res: HttpResponse): string {
  const body = res.body as { detail?: unknown; message?: unknown } | undefined;
  const detail = body?.detail ?? body?.message ?? res.text;
  const text = typeof detail === 'string' ? detail : JSON.stringify(detail);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

interface RunResponseShape {
  session_id?: string;
  outputs?: Array<{
    outputs?: Array<{
      results?: { message?: { text?: unknown; properties?: { usage?: UsageShape | null } } };
      outputs?: { message?: { message?: unknown } };
      token_usage?: UsageShape | null;
    }>;
  }>;
}

interface UsageShape {
  input_tokens?: number | null;
  output_tokens?: number | null;
}

/** Pulls the answer text, token usage and session out of a run response. */
export function parseRunResponse(body: unknown, flow: string): { text: string; usage?: TokenUsage; sessionId?: string } {
  const first = (body as RunResponseShape | undefined)?.outputs?.[0]?.outputs?.[0];
  const message = first?.results?.message;
  const text = typeof message?.text === 'string' ? message.text : typeof first?.outputs?.message?.message === 'string' ? first.outputs.message.message : undefined;
  if (text === undefined) {
    throw new RuntimeRequestError(`Langflow run of ${flow} returned no chat message; does the flow end in a Chat Output?`);
  }
  const u = message?.properties?.usage ?? first?.token_usage;
  const usage = u && (u.input_tokens != null || u.output_tokens != null) ? { inputTokens: u.input_tokens ?? 0, outputTokens: u.output_tokens ?? 0 } : undefined;
  const sessionId = (body as RunResponseShape).session_id;
  return { text, ...(usage ? { usage } : {}), ...(sessionId ? { sessionId } : {}) };
}

/**
 * What makes two flows behave the same: nodes (id, component type, every
 * template value, component code included) and edges (who feeds which field).
 * Langflow adds and reorders presentation keys on save, so raw JSON equality
 * would report a change every time.
 */
export function flowFingerprint(data: FlowExport['data']): string {
  const nodes = [...(data.nodes ?? [])]
    .map((n) => {
      const template = (n.data?.node?.template ?? {}) as Record<string, unknown>;
      const values: Record<string, unknown> = {};
      for (const key of Object.keys(template).sort()) {
        const field = template[key];
        if (field && typeof field === 'object' && 'value' in field) values[key] = (field as { value: unknown }).value;
      }
      return { id: n.id, type: n.data?.type, values };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
  const edges = (data.edges ?? []).map((e) => `${e.source}.${e.data?.sourceHandle?.name ?? ''}->${e.target}.${e.data?.targetHandle?.fieldName ?? ''}`).sort();
  return createHash('sha256').update(JSON.stringify({ nodes, edges })).digest('hex');
}
