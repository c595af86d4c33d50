// MCP both ways, on the real stack (Langflow included, for run_agent):
// (1) an MCP-server binding: the gateway lists and calls a local MCP server's
//     tools with the binding's secret, under the same egress rules, audit and metering;
// (2) the instance's own MCP endpoint: the SDK's client, with an API key, lists
//     and calls the agent (run_agent, through the run path and its credit hold)
//     and the instance's bound tools.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueRunToken } from '../../core/connectors';
import { loginAs } from '../support/oidc';
import { startMcpServer, type TestMcpServer } from '../support/mcp-server';
import { startPlatform, type TestPlatform } from '../support/platform';
import { startToolServer, type ToolServer } from '../support/tool-server';

const TOOL_KEY = 'mcp-test-http-tool-key';
const MCP_TOKEN = 'mcp-test-server-bearer-token';
let p: TestPlatform;
let tool: ToolServer;
let mcp: TestMcpServer;
let user: string;
let orgId: string;
let instanceId: string;
let httpBinding: string;
let mcpBinding: string;
let apiKey: string;

async function bind(body: Record<string, unknown>) {
  const res = await p.call('POST', `/v1/instances/${instanceId}/connectors`, { token: user, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

async function mcpClient(key: string, instance = instanceId): Promise<Client> {
  const client = new Client({ name: 'cmp-test-client', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${p.url}/v1/instances/${instance}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  return client;
}

const available = async () => (await p.call('GET', '/v1/wallet', { token: user })).body.available_mc as number;

beforeAll(async () => {
  tool = await startToolServer({ apiKey: TOOL_KEY });
  mcp = await startMcpServer({ token: MCP_TOKEN });
  p = await startPlatform({ connectors: {}, configOverrides: { CONNECTOR_EGRESS_ALLOW: `127.0.0.1:${tool.port},127.0.0.1:${mcp.port}` } });
  user = (await loginAs('buyer@cmp.local')).accessToken;
  orgId = (await p.call('POST', '/v1/orgs/auto', { token: user })).body.org.id;
  const db = p.clients.db;
  const version = await db('offering_versions').where('id', p.versionIds['ticket-triage']).first();
  const plan = await db('plans').where({ offering_id: version.offering_id, code: 'free' }).first();
  instanceId = (await db('instances').insert({ org_id: orgId, offering_id: version.offering_id, offering_version_id: version.id, plan_id: plan.id, status: 'active' }).returning('id'))[0].id;
  httpBinding = await bind({
    name: 'catalog', type: 'http', base_url: `${tool.url}/api`, operations: [{ name: 'get_item', method: 'GET', path: '/items/{id}', idempotent: true }],
    secret: { kind: 'api_key', header: 'x-tool-key', value: TOOL_KEY },
  });
  mcpBinding = await bind({ name: 'orders', type: 'mcp', base_url: mcp.url, tools: ['lookup_order'], secret: { kind: 'bearer', token: MCP_TOKEN } });
  apiKey = (await p.call('POST', '/v1/api-keys', { token: user, body: { name: 'mcp' } })).body.secret;
}, 240_000);
afterAll(async () => {
  await p?.close();
  await tool?.close();
  await mcp?.close();
});

describe('an MCP-server binding through the gateway', () => {
  it('lists only the allowed tools and calls one with the secret; charges the call, not the listing', async () => {
    const token = await issueRunToken({ orgId, instanceId, runId: crypto.randomUUID(), ttlMs: 60_000, signingSecret: p.config.SIGNING_SECRET });
    const invoke = (body: unknown) => p.call('POST', `/v1/connectors/${mcpBinding}/invoke`, { headers: { authorization: `Bearer ${token}` }, body });
    const before = await available();
    const listed = await invoke({ operation: 'tools/list' });
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    expect(listed.body.result.tools.map((t: { name: string }) => t.name)).toEqual(['lookup_order']);
    expect(listed.body.credits_charged_mc).toBe(0);

    const called = await invoke({ operation: 'lookup_order', arguments: { order: 'ORD-7' } });
    expect(called.status, JSON.stringify(called.body)).toBe(200);
    expect(called.body.result.structuredContent).toEqual({ order: 'ORD-7', status: 'shipped' });
    expect(called.body.credits_charged_mc).toBe(100);
    expect(await available()).toBe(before - 100);
    expect(mcp.authorizations.length).toBeGreaterThan(0);
    expect(mcp.authorizations.every((a) => a === `Bearer ${MCP_TOKEN}`)).toBe(true);

    expect((await invoke({ operation: 'delete_all_orders' })).status).toBe(403);
    const call = await p.clients.db('connector_calls').where('id', called.body.call_id).first();
    expect(call).toMatchObject({ operation: 'lookup_order', status: 'succeeded', charged_mc: 100 });
    expect(call.request_bytes).toBeGreaterThan(0);
  });

  it('refuses an MCP server on a private address without an allow-list entry', async () => {
    const id = await bind({ name: 'internal-mcp', type: 'mcp', base_url: `http://127.0.0.1:${mcp.port + 1}/mcp`, secret: { kind: 'bearer', token: MCP_TOKEN } });
    const token = await issueRunToken({ orgId, instanceId, runId: crypto.randomUUID(), ttlMs: 60_000, signingSecret: p.config.SIGNING_SECRET });
    const res = await p.call('POST', `/v1/connectors/${id}/invoke`, { headers: { authorization: `Bearer ${token}` }, body: { operation: 'lookup_order', arguments: { order: '1' } } });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ type: 'https://cmp.dev/problems/egress-refused', reason: 'private-address' });
    expect((await p.call('DELETE', `/v1/connectors/${id}`, { token: user })).status).toBe(200);
  });
});

describe("the instance's MCP endpoint", () => {
  it('lets an MCP client with an API key list and call the agent and its bound tools', async () => {
    const client = await mcpClient(apiKey);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['catalog__get_item', 'orders__lookup_order', 'run_agent']);

      const item = await client.callTool({ name: 'catalog__get_item', arguments: { params: { id: 'm-1' } } });
      expect(item.isError).toBeFalsy();
      expect(item.structuredContent).toMatchObject({ id: 'm-1', name: 'Item m-1' });

      const order = await client.callTool({ name: 'orders__lookup_order', arguments: { order: 'ORD-9' } });
      expect(order.structuredContent).toEqual({ order: 'ORD-9', status: 'shipped' });

      const before = await available();
      const run = await client.callTool({ name: 'run_agent', arguments: { input: 'I was charged twice for my Plus plan this month, invoice INV-2024-0931. Please refund the duplicate charge.' } });
      expect(run.isError, JSON.stringify(run)).toBeFalsy();
      const output = (run.content as { type: string; text: string }[])[0]!.text;
      expect(output.toLowerCase()).toContain('billing');
      const charged = (run.structuredContent as { credits_charged_mc: number; run_id: string }).credits_charged_mc;
      expect(charged).toBeGreaterThan(0);
      expect(await available()).toBe(before - charged);
      const runRow = await p.clients.db('runs').where('id', (run.structuredContent as { run_id: string }).run_id).first();
      expect(runRow.instance_id).toBe(instanceId);

      const unknown = await client.callTool({ name: 'orders__delete_all_orders', arguments: {} });
      expect(unknown.isError).toBe(true);
    } finally {
      await client.close();
    }
    expect(JSON.stringify(await p.clients.db('audit_log').where({ action: 'connector.call' }))).not.toContain(MCP_TOKEN);
    expect(httpBinding).toBeTruthy();
  });

  it('refuses a wrong API key (401) and another organization (404)', async () => {
    const bad = await fetch(`${p.url}/v1/instances/${instanceId}/mcp`, {
      method: 'POST', headers: { authorization: 'Bearer cmp_live_not-a-key', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(bad.status).toBe(401);
    const other = (await loginAs('buyer2@cmp.local')).accessToken;
    await p.call('POST', '/v1/orgs/auto', { token: other });
    const otherKey = (await p.call('POST', '/v1/api-keys', { token: other, body: { name: 'other' } })).body.secret;
    await expect(mcpClient(otherKey)).rejects.toThrow(/404/);
    const get = await fetch(`${p.url}/v1/instances/${instanceId}/mcp`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(get.status).toBe(405);
  });
});
