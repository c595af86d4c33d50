// Executes one tool call for a binding, through the egress guard, with the
// binding's secret as headers: an HTTP operation (method + path template) or
// an MCP server's tool (the SDK's client over Streamable HTTP, its requests
// sent by the same guard).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { validation } from '../errors';
import type { EgressGuard } from './egress';
import { ConnectorRefusedError, ToolRejectedError, ToolUnavailableError } from './errors';
import { authHeaders } from './secrets';
import type { ConnectorBinding, HttpOperation } from './types';

export type Scalar = string | number | boolean;

/** What a flow asks the gateway to do. */
export interface ToolCall {
  operation: string;
  /** HTTP: values for the path template's {placeholders}. */
  params?: Record<string, Scalar>;
  /** HTTP: query string. */
  query?: Record<string, Scalar>;
  /** HTTP: JSON body. */
  body?: unknown;
  /** MCP: the tool's arguments. */
  arguments?: Record<string, unknown>;
}

export interface ToolAnswer {
  /** HTTP status of the tool's answer (MCP: 200, or 200 with isError). */
  upstreamStatus: number;
  contentType: string | null;
  /** Parsed JSON when the tool answered JSON, else text. MCP: the tool result ({content, structuredContent, isError}). */
  body: unknown;
  requestBytes: number;
  responseBytes: number;
}

/** Reserved operation of MCP bindings: list the server's (allowed) tools. */
export const MCP_LIST_TOOLS = 'tools/list';

export function findHttpOperation(binding: ConnectorBinding, name: string): HttpOperation | undefined {
  return binding.operations.find((o) => o.name === name);
}

export function mcpToolAllowed(binding: ConnectorBinding, name: string): boolean {
  return binding.mcpTools === null || binding.mcpTools.includes(name);
}

/** Whether a failed attempt of this operation may be repeated: declared idempotent, or an MCP tool listing. */
export function operationIsIdempotent(binding: ConnectorBinding, operation: string): boolean {
  if (binding.type === 'mcp') return operation === MCP_LIST_TOOLS;
  return findHttpOperation(binding, operation)?.idempotent === true;
}

/** The binding allows this operation; otherwise a 403 naming it. */
export function authorizeOperation(binding: ConnectorBinding, operation: string): void {
  const allowed = binding.type === 'http' ? findHttpOperation(binding, operation) !== undefined : operation === MCP_LIST_TOOLS || mcpToolAllowed(binding, operation);
  if (!allowed) throw new ConnectorRefusedError('forbidden', `Operation ${JSON.stringify(operation)} is not allowed on connector ${binding.name}`);
}

export const hostOf = (url: URL) => `${url.hostname.toLowerCase()}:${Number(url.port || (url.protocol === 'https:' ? 443 : 80))}`;

/** The operation's URL under the binding's base URL: placeholders filled and encoded, never escaping the base path. */
export function operationUrl(baseUrl: string, op: HttpOperation, params: Record<string, Scalar> = {}, query: Record<string, Scalar> = {}): URL {
  const base = new URL(baseUrl);
  const filled = op.path.replace(/\{([A-Za-z0-9_]+)\}/g, (_m, name: string) => {
    const value = params[name];
    if (value === undefined) throw validation(`Missing parameter ${name}`, [{ path: `params.${name}`, message: 'required by the path' }]);
    const text = String(value);
    if (text === '.' || text === '..') throw validation(`Parameter ${name} may not be "${text}"`, [{ path: `params.${name}`, message: 'invalid' }]);
    return encodeURIComponent(text);
  });
  const basePath = base.pathname.replace(/\/+$/, '');
  const url = new URL(base.origin);
  url.pathname = `${basePath}/${filled.replace(/^\/+/, '')}`;
  for (const [k, v] of Object.entries(query)) url.searchParams.append(k, String(v));
  if (url.origin !== base.origin || !`${url.pathname}/`.startsWith(`${basePath}/`)) {
    throw validation('The operation path leaves the connector base URL');
  }
  return url;
}

function parseBody(body: Buffer, contentType: string | null): unknown {
  const text = body.toString('utf8');
  if (contentType?.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

export async function callHttpTool(guard: EgressGuard, binding: ConnectorBinding, call: ToolCall, secret: Record<string, string>): Promise<ToolAnswer> {
  const op = findHttpOperation(binding, call.operation);
  if (!op) throw new ConnectorRefusedError('forbidden', `Operation ${JSON.stringify(call.operation)} is not allowed on connector ${binding.name}`);
  const url = operationUrl(binding.baseUrl, op, call.params, call.query);
  const payload = call.body === undefined || op.method === 'GET' ? undefined : Buffer.from(JSON.stringify(call.body));
  const headers: Record<string, string> = {
    accept: 'application/json, text/plain;q=0.9, */*;q=0.1',
    'user-agent': 'cmp-connector-gateway/1',
    ...(payload ? { 'content-type': 'application/json' } : {}),
    ...authHeaders(secret),
  };
  const res = await guard.request(url, { method: op.method, headers, body: payload }, hostOf(new URL(binding.baseUrl)));
  const contentType = res.headers['content-type'] ?? null;
  const answer: ToolAnswer = { upstreamStatus: res.status, contentType, body: parseBody(res.body, contentType), requestBytes: payload?.length ?? 0, responseBytes: res.body.length };
  if (res.status >= 500 || res.status === 429 || res.status === 408) throw new ToolUnavailableError(`The tool answered HTTP ${res.status}`, res.status);
  if (res.status >= 400) {
    const excerpt = res.body.toString('utf8').slice(0, 2000);
    throw new ToolRejectedError(`The tool answered HTTP ${res.status}`, { upstream_status: res.status, upstream_body: excerpt });
  }
  return answer;
}

/** A fetch for the MCP SDK that sends every request through the guard; the gateway does not hold SSE streams open. */
function guardedFetch(guard: EgressGuard, allowedHost: string, counters: { requestBytes: number; responseBytes: number }) {
  return async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const method = (init?.method ?? 'GET').toUpperCase();
    // The standalone GET stream only carries server-initiated messages, which a single call does not need.
    if (method === 'GET') return new Response(null, { status: 405 });
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    const body = typeof init?.body === 'string' ? Buffer.from(init.body) : undefined;
    counters.requestBytes += body?.length ?? 0;
    const res = await guard.request(new URL(String(input)), { method, headers, body }, allowedHost);
    counters.responseBytes += res.body.length;
    const out = new Headers();
    for (const [k, v] of Object.entries(res.headers)) out.set(k, v);
    return new Response(res.status === 204 || res.status === 202 ? null : new Uint8Array(res.body), { status: res.status, headers: out });
  };
}

export async function callMcpTool(guard: EgressGuard, binding: ConnectorBinding, call: ToolCall, secret: Record<string, string>): Promise<ToolAnswer> {
  if (call.operation !== MCP_LIST_TOOLS && !mcpToolAllowed(binding, call.operation)) {
    throw new ConnectorRefusedError('forbidden', `Tool ${JSON.stringify(call.operation)} is not allowed on connector ${binding.name}`);
  }
  const url = new URL(binding.baseUrl);
  const counters = { requestBytes: 0, responseBytes: 0 };
  const transport = new StreamableHTTPClientTransport(url, {
    fetch: guardedFetch(guard, hostOf(url), counters),
    requestInit: { headers: authHeaders(secret) },
  });
  const client = new Client({ name: 'cmp-connector-gateway', version: '1.0.0' });
  try {
    await client.connect(transport);
    let body: unknown;
    if (call.operation === MCP_LIST_TOOLS) {
      const listed = await client.listTools();
      body = { tools: listed.tools.filter((t) => mcpToolAllowed(binding, t.name)) };
    } else {
      body = await client.callTool({ name: call.operation, arguments: call.arguments ?? {} });
    }
    return { upstreamStatus: 200, contentType: 'application/json', body, ...counters };
  } catch (err) {
    if (err instanceof Error && 'retryable' in err) throw err;
    // The SDK's errors: JSON-RPC errors from the server are its refusal; anything else is the server being unreachable.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') throw new ToolRejectedError(`The MCP server refused: ${(err as Error).message}`, { mcp_code: code });
    throw new ToolUnavailableError(`The MCP server failed: ${(err as Error).message}`);
  } finally {
    await client.close().catch(() => undefined);
  }
}

export function callTool(guard: EgressGuard, binding: ConnectorBinding, call: ToolCall, secret: Record<string, string>): Promise<ToolAnswer> {
  return binding.type === 'mcp' ? callMcpTool(guard, binding, call, secret) : callHttpTool(guard, binding, call, secret);
}
