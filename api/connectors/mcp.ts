// The MCP endpoint of an instance: `POST /v1/instances/{id}/mcp` (Streamable
// HTTP, stateless, JSON answers) for API-key holders. It exposes the agent
// itself as the tool `run_agent` (the same run path as POST /v1/runs: a
// runWithCreditHold workflow with its credit hold) and the instance's bound
// tools as `<binding>__<operation>`, each call a connectorCall workflow
// (egress rules, secrets from Vault, audit and metering as for flows).
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Client } from '@temporalio/client';
import { Router, type RequestHandler } from 'express';
import type { Config } from '../../core/config';
import type { ConnectorStore } from '../../core/connectors/store';
import { MCP_LIST_TOOLS, type ToolCall } from '../../core/connectors/tools';
import type { ConnectorBinding } from '../../core/connectors/types';
import type { RateLimiter } from '../../core/runs/rate-limiter';
import type { RunStore } from '../../core/runs/store';
import type { RunOutcome } from '../../core/runs/contract';
import { AppError, notFound } from '../../core/errors';
import type { Ledger } from '../../core/ledger';
import type { InstanceStore } from '../../core/instances/store';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { createRunStarter } from '../runs/run-starter';
import { executeConnectorCall } from './gateway';

export interface McpRouteDeps {
  api: ApiDefinition;
  temporal: Client;
  config: Config;
  connectors: ConnectorStore;
  instances: InstanceStore;
  runs: RunStore;
  ledger: Pick<Ledger, 'walletAvailable'>;
  limiter: RateLimiter;
  taskQueues: { runs: string; connectors: string };
  requireApiKey: RequestHandler;
}

const SEPARATOR = '__';

const runAgentTool: Tool = {
  name: 'run_agent',
  description: 'Run this agent on an input; answers with its output. Charged per run from the organization wallet.',
  inputSchema: { type: 'object', properties: { input: { type: 'string', description: 'What to ask the agent' }, session_id: { type: 'string' } }, required: ['input'] },
};

const text = (t: string, isError = false): CallToolResult => ({ content: [{ type: 'text', text: t }], ...(isError ? { isError: true } : {}) });

export function createInstanceMcpRouter(deps: McpRouteDeps): Router {
  const { api, temporal, config } = deps;
  const router = Router();
  const starter = createRunStarter({ ...deps, taskQueue: deps.taskQueues.runs });
  const gateway = { temporal, config, taskQueue: deps.taskQueues.connectors };

  async function runAgent(orgId: string, instanceId: string, apiKeyId: string, args: { input?: unknown; session_id?: unknown }): Promise<CallToolResult> {
    if (typeof args.input !== 'string' || args.input.length === 0 || args.input.length > 20_000) return text('run_agent needs an input of 1 to 20000 characters', true);
    const startedAt = performance.now();
    const target = await deps.instances.runTarget(orgId, { instanceId });
    if (!target) return text('This instance is not active', true);
    const { decision, run, refusal } = await starter.admit(target, { apiKeyId, input: args.input, sessionId: typeof args.session_id === 'string' ? args.session_id : undefined });
    if (!decision.allowed) return text(`Rate limited: retry in ${decision.resetSeconds} s`, true);
    let outcome: RunOutcome | null = refusal;
    if (!outcome) {
      await starter.recordStart(run);
      // An MCP tool call answers once: wait for the run however long it takes (the runtime's own timeout bounds it).
      outcome = (await starter.execute(run, { startedAt }))!;
    }
    if (outcome.status === 'succeeded') {
      return { content: [{ type: 'text', text: outcome.output }], structuredContent: { run_id: run.runId, credits_charged_mc: outcome.chargedMc, balance_mc: outcome.balanceMc } };
    }
    if (outcome.status === 'rejected') return text(`Insufficient credits: this run needs ${outcome.requiredMc} millicredits; ${outcome.availableMc} are available`, true);
    return text(`The agent ${outcome.status === 'timed_out' ? 'timed out' : 'failed'}: ${outcome.error.message}; nothing was charged (run ${run.runId})`, true);
  }

  /** The bound tools, as MCP tools: HTTP operations from the binding, MCP tools listed from their server. */
  async function boundTools(orgId: string, instanceId: string, bindings: ConnectorBinding[]): Promise<Tool[]> {
    const tools: Tool[] = [];
    for (const b of bindings) {
      if (b.type === 'http') {
        for (const op of b.operations) {
          tools.push({
            name: `${b.name}${SEPARATOR}${op.name}`,
            description: `${op.method} ${op.path} on connector ${b.name}${op.idempotent ? '' : ' (not idempotent)'}`,
            inputSchema: {
              type: 'object',
              properties: { params: { type: 'object', description: 'Values for the path placeholders' }, query: { type: 'object' }, body: { description: 'JSON body' } },
            },
          });
        }
        continue;
      }
      const listed = await executeConnectorCall(gateway, { bindingId: b.id, orgId, instanceId, runId: null, call: { operation: MCP_LIST_TOOLS } });
      // A server that cannot be listed right now contributes no tools rather than failing the whole listing.
      if (listed.status !== 'succeeded') continue;
      for (const t of (listed.body as { tools: Tool[] }).tools) tools.push({ ...t, name: `${b.name}${SEPARATOR}${t.name}` });
    }
    return tools;
  }

  async function callBoundTool(orgId: string, instanceId: string, bindings: ConnectorBinding[], name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    const at = name.indexOf(SEPARATOR);
    const binding = at > 0 ? bindings.find((b) => b.name === name.slice(0, at)) : undefined;
    if (!binding) return text(`Unknown tool ${name}`, true);
    const operation = name.slice(at + SEPARATOR.length);
    const call: ToolCall = binding.type === 'mcp'
      ? { operation, arguments: args }
      : { operation, params: args.params as ToolCall['params'], query: args.query as ToolCall['query'], body: args.body };
    const outcome = await executeConnectorCall(gateway, { bindingId: binding.id, orgId, instanceId, runId: null, call });
    if (outcome.status !== 'succeeded') return text(`${outcome.problem.title}: ${outcome.problem.detail}`, true);
    if (binding.type === 'mcp') return outcome.body as CallToolResult;
    const body = outcome.body;
    return {
      content: [{ type: 'text', text: typeof body === 'string' ? body : JSON.stringify(body) }],
      ...(body && typeof body === 'object' && !Array.isArray(body) ? { structuredContent: body as Record<string, unknown> } : {}),
    };
  }

  api.route(router, {
    method: 'post', path: '/v1/instances/:id/mcp', summary: 'MCP endpoint of an instance (Streamable HTTP): the agent as run_agent, plus its bound tools', tags: ['Connectors'],
    auth: 'apiKey', workspaceRole: 'member', use: [deps.requireApiKey],
    params: z.object({ id: z.string().max(64) }),
    responses: { 200: { description: 'A JSON-RPC answer' } },
  }, async (req, res, { params }) => {
    const key = req.apiKey!;
    if (key.instanceId && key.instanceId !== params.id) throw notFound(`Instance ${params.id}`);
    const instance = await deps.instances.get(key.orgId, params.id);
    const bindings = await deps.connectors.listForInstance(key.orgId, instance.id);

    const server = new Server({ name: `cmp-${instance.offeringSlug}`, version: instance.version }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [runAgentTool, ...(await boundTools(key.orgId, instance.id, bindings))] }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const args = (request.params.arguments ?? {}) as Record<string, unknown>;
      if (request.params.name === runAgentTool.name) return runAgent(key.orgId, instance.id, key.id, args);
      return callBoundTool(key.orgId, instance.id, bindings, request.params.name, args);
    });
    // Stateless: one server and transport per request, JSON answers instead of an SSE stream.
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });

  api.route(router, {
    method: 'get', path: '/v1/instances/:id/mcp', summary: 'MCP server-to-client stream: not offered (stateless endpoint); answers 405', tags: ['Connectors'],
    auth: 'apiKey', workspaceRole: 'member', use: [deps.requireApiKey],
    params: z.object({ id: z.string().max(64) }),
    responses: { 405: { description: 'This endpoint is stateless: use POST' } },
  }, async (req, _res, { params }) => {
    await deps.instances.get(req.apiKey!.orgId, params.id);
    throw new AppError('method-not-allowed', 'Method not allowed', 'This MCP endpoint is stateless: send JSON-RPC requests with POST', {}, { Allow: 'POST' });
  });

  return router;
}
