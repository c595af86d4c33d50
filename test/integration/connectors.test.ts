// The connector gateway against real Temporal, PostgreSQL and the Vault KV v2
// sandbox, with a local HTTP tool server: bindings (secret in Vault, never
// returned), run-token auth, the connectorCall workflow (authorize → secret →
// tool → audit → meter), egress refusals and per-operation retries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EgressGuard, issueRunToken } from '../../core/connectors';
import { connectorChargeId } from '../../core/connectors/contract';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';
import { startToolServer, type ToolServer } from '../support/tool-server';

const TOOL_KEY = 'tool-secret-9f8e7d6c5b4a';
let p: TestPlatform;
let tool: ToolServer;
const org = { a: { token: '', orgId: '', instanceId: '' }, b: { token: '', orgId: '', instanceId: '' } };
let binding: string;

// DNS as the tests want it: a name for the tool server and a name that resolves to a private address.
const lookup = async (host: string) => {
  if (host === 'tools.test') return [{ address: '127.0.0.1', family: 4 as const }];
  if (host === 'internal.test') return [{ address: '10.0.0.5', family: 4 as const }];
  if (host === 'localhost') return [{ address: '127.0.0.1', family: 4 as const }];
  throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
};

async function activeInstance(orgId: string): Promise<string> {
  const db = p.clients.db;
  const version = await db('offering_versions').where('id', p.versionIds['ticket-triage']).first();
  const plan = await db('plans').where({ offering_id: version.offering_id, code: 'free' }).first();
  const [row] = await db('instances')
    .insert({ org_id: orgId, offering_id: version.offering_id, offering_version_id: version.id, plan_id: plan.id, status: 'active', activated_at: db.fn.now() })
    .returning('id');
  return row.id as string;
}

const runToken = (who: { orgId: string; instanceId: string }, runId = crypto.randomUUID(), ttlMs = 60_000) =>
  issueRunToken({ orgId: who.orgId, instanceId: who.instanceId, runId, ttlMs, signingSecret: p.config.SIGNING_SECRET });

async function invoke(bindingId: string, body: unknown, token?: string, headers: Record<string, string> = {}) {
  return p.call('POST', `/v1/connectors/${bindingId}/invoke`, { body, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
}

const available = async (token: string) => (await p.call('GET', '/v1/wallet', { token })).body.available_mc as number;

async function bind(body: Record<string, unknown>, who = org.a) {
  const res = await p.call('POST', `/v1/instances/${who.instanceId}/connectors`, { token: who.token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

const ops = [
  { name: 'get_item', method: 'GET', path: '/items/{id}', idempotent: true },
  { name: 'create_ticket', method: 'POST', path: '/tickets', idempotent: false },
  { name: 'flaky_read', method: 'GET', path: '/flaky', idempotent: true },
  { name: 'flaky_write', method: 'POST', path: '/flaky', idempotent: false },
  { name: 'redirect', method: 'GET', path: '/redirect', idempotent: true },
  { name: 'big', method: 'GET', path: '/big', idempotent: true },
];

beforeAll(async () => {
  tool = await startToolServer({ apiKey: TOOL_KEY });
  p = await startPlatform({
    connectors: { lookup },
    configOverrides: { CONNECTOR_EGRESS_ALLOW: `127.0.0.1:${tool.port}`, CONNECTOR_TOOL_TIMEOUT_MS: '2000', CONNECTOR_CALL_TIMEOUT_MS: '15000' },
  });
  const [a, b] = await Promise.all([loginAs('buyer@cmp.local'), loginAs('buyer2@cmp.local')]);
  org.a.token = a.accessToken;
  org.b.token = b.accessToken;
  for (const who of [org.a, org.b]) {
    who.orgId = (await p.call('POST', '/v1/orgs/auto', { token: who.token })).body.org.id;
    who.instanceId = await activeInstance(who.orgId);
  }
  binding = await bind({ name: 'tickets', type: 'http', base_url: `${tool.url}/api`, operations: ops, secret: { kind: 'api_key', header: 'X-Tool-Key', value: TOOL_KEY } });
}, 240_000);
afterAll(async () => {
  await p?.close();
  await tool?.close();
});

describe('bindings', () => {
  it('writes the secret to Vault and never returns it; other orgs see nothing', async () => {
    const got = await p.call('GET', `/v1/connectors/${binding}`, { token: org.a.token });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ name: 'tickets', type: 'http', secret: { kind: 'api_key', header_name: 'x-tool-key', set: true, version: 1 } });
    expect(got.body.secret.last_rotated_at).toBeTruthy();
    const list = await p.call('GET', `/v1/instances/${org.a.instanceId}/connectors`, { token: org.a.token });
    expect(list.body.items.map((b: { id: string }) => b.id)).toEqual([binding]);
    for (const res of [got, list]) expect(JSON.stringify(res.body)).not.toContain(TOOL_KEY);

    const path = `cmp/orgs/${org.a.orgId}/instances/${org.a.instanceId}/connectors/${binding}`;
    expect((await p.clients.secrets.read(path))?.data).toEqual({ kind: 'api_key', header: 'x-tool-key', value: TOOL_KEY });
    const row = await p.clients.db('connector_bindings').where('id', binding).first();
    expect(JSON.stringify(row)).not.toContain(TOOL_KEY);

    // Another org: every route answers 404, as if the binding did not exist.
    expect((await p.call('GET', `/v1/connectors/${binding}`, { token: org.b.token })).status).toBe(404);
    expect((await p.call('PATCH', `/v1/connectors/${binding}`, { token: org.b.token, body: { name: 'mine' } })).status).toBe(404);
    expect((await p.call('DELETE', `/v1/connectors/${binding}`, { token: org.b.token })).status).toBe(404);
    expect((await p.call('POST', `/v1/connectors/${binding}/rotate`, { token: org.b.token, body: { secret: { kind: 'api_key', header: 'x-k', value: 'v' } } })).status).toBe(404);
    expect((await p.call('GET', `/v1/instances/${org.a.instanceId}/connectors`, { token: org.b.token })).status).toBe(404);
    expect((await p.call('POST', `/v1/instances/${org.a.instanceId}/connectors`, { token: org.b.token, body: { name: 'x', type: 'http', base_url: tool.url, operations: ops, secret: { kind: 'bearer', token: 't' } } })).status).toBe(404);

    const audit = await p.clients.db('audit_log').where({ target_id: binding, action: 'connector.create' });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(TOOL_KEY);
  });

  it('validates operations and secrets, updates, rotates and deletes (secret removed from Vault)', async () => {
    const bad = await p.call('POST', `/v1/instances/${org.a.instanceId}/connectors`, { token: org.a.token, body: { name: 'x', type: 'http', base_url: tool.url, secret: { kind: 'bearer', token: 't' } } });
    expect(bad.status).toBe(400);
    const badHeader = await p.call('POST', `/v1/instances/${org.a.instanceId}/connectors`, { token: org.a.token, body: { name: 'x', type: 'http', base_url: tool.url, operations: ops, secret: { kind: 'api_key', header: 'Host', value: 'v' } } });
    expect(badHeader.status).toBe(400);

    const id = await bind({ name: 'temp', type: 'http', base_url: `${tool.url}/api`, operations: ops.slice(0, 1), secret: { kind: 'bearer', token: 'first-token' } });
    const patched = await p.call('PATCH', `/v1/connectors/${id}`, { token: org.a.token, body: { operations: ops.slice(0, 2) } });
    expect(patched.body.operations.map((o: { name: string }) => o.name)).toEqual(['get_item', 'create_ticket']);
    const rotated = await p.call('POST', `/v1/connectors/${id}/rotate`, { token: org.a.token, body: { secret: { kind: 'bearer', token: 'second-token' } } });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret.version).toBe(2);
    expect(JSON.stringify(rotated.body)).not.toContain('second-token');

    // The rotated secret is what the tool receives next.
    const res = await invoke(id, { operation: 'get_item', params: { id: '7' } }, await runToken(org.a));
    expect(res.status).toBe(502);
    expect(tool.received.at(-1)?.headers.authorization).toBe('Bearer second-token');

    const path = `cmp/orgs/${org.a.orgId}/instances/${org.a.instanceId}/connectors/${id}`;
    expect((await p.call('DELETE', `/v1/connectors/${id}`, { token: org.a.token })).status).toBe(200);
    expect(await p.clients.secrets.read(path)).toBeNull();
    expect((await p.call('GET', `/v1/connectors/${id}`, { token: org.a.token })).status).toBe(404);
    const actions = (await p.clients.db('audit_log').where({ target_id: id }).orderBy('id')).map((r) => r.action);
    expect(actions).toEqual(['connector.create', 'connector.update', 'connector.rotate_secret', 'connector.call', 'connector.delete']);
  });
});

describe('invoke', () => {
  it('calls the tool with the secret, answers its result, audits and charges 100 mc', async () => {
    const before = await available(org.a.token);
    const runId = crypto.randomUUID();
    const res = await invoke(binding, { operation: 'get_item', params: { id: 'A-1' }, query: { q: 'hello' } }, await runToken(org.a, runId));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: 'succeeded', tool_status: 200, result: { id: 'A-1', name: 'Item A-1', q: 'hello' }, credits_charged_mc: 100 });
    expect(JSON.stringify(res.body)).not.toContain(TOOL_KEY);
    const seen = tool.received.at(-1)!;
    expect(seen.path).toBe('/api/items/A-1?q=hello');
    expect(seen.headers['x-tool-key']).toBe(TOOL_KEY);
    expect(await available(org.a.token)).toBe(before - 100);
    expect((await p.clients.ledger.getTransfer(connectorChargeId(res.body.call_id)))?.amount).toBe(100);

    const call = await p.clients.db('connector_calls').where('id', res.body.call_id).first();
    expect(call).toMatchObject({ run_id: runId, operation: 'get_item', status: 'succeeded', upstream_status: 200, charged_mc: 100, binding_id: binding });
    expect(call.response_bytes).toBeGreaterThan(10);
    const audit = await p.clients.db('audit_log').where({ action: 'connector.call', target_id: binding });
    expect(audit.some((a) => a.actor === `run:${runId}`)).toBe(true);
    expect(JSON.stringify(audit)).not.toContain(TOOL_KEY);
    expect(JSON.stringify(audit)).not.toContain('Item A-1');

    // The workflow is visible to operators, and its history holds no secret.
    const handle = p.temporal.workflow.getHandle(`conn-${res.body.call_id}`);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).not.toContain(TOOL_KEY);
    expect(history).not.toContain(Buffer.from(TOOL_KEY).toString('base64'));
  });

  it('sends a JSON body to a non-idempotent operation once; an Idempotency-Key replays the same call', async () => {
    const token = await runToken(org.a);
    const first = await invoke(binding, { operation: 'create_ticket', body: { subject: 'Printer on fire' } }, token, { 'idempotency-key': 'ticket-1' });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.result).toMatchObject({ subject: 'Printer on fire' });
    expect(first.body.tool_status).toBe(201);
    const count = tool.received.length;
    const again = await invoke(binding, { operation: 'create_ticket', body: { subject: 'Printer on fire' } }, token, { 'idempotency-key': 'ticket-1' });
    expect(again.body).toEqual(first.body);
    expect(tool.received.length).toBe(count);
  });

  it('refuses missing, forged, expired and foreign tokens (401), foreign bindings (404) and operations not allowed (403)', async () => {
    const body = { operation: 'get_item', params: { id: '1' } };
    expect((await invoke(binding, body)).status).toBe(401);
    const good = await runToken(org.a);
    const [h, pl] = good.split('.');
    expect((await invoke(binding, body, `${h}.${pl}.c2lnbmF0dXJl`)).status).toBe(401);
    const expired = await issueRunToken({ orgId: org.a.orgId, instanceId: org.a.instanceId, runId: 'r', ttlMs: 0, signingSecret: p.config.SIGNING_SECRET, now: new Date(Date.now() - 3_600_000) });
    const exp = await invoke(binding, body, expired);
    expect(exp.status).toBe(401);
    expect(exp.body.detail).toMatch(/expired/);
    const foreignKey = await issueRunToken({ orgId: org.a.orgId, instanceId: org.a.instanceId, runId: 'r', ttlMs: 60_000, signingSecret: 'another-platform-signing-secret-0123456789' });
    expect((await invoke(binding, body, foreignKey)).status).toBe(401);
    const apiKey = (await p.call('POST', '/v1/api-keys', { token: org.a.token, body: { name: 'not-a-run-token' } })).body.secret;
    expect((await invoke(binding, body, apiKey)).status).toBe(401);

    const before = await available(org.b.token);
    const foreign = await invoke(binding, body, await runToken(org.b));
    expect(foreign.status).toBe(404);
    expect(foreign.headers.get('content-type')).toContain('application/problem+json');
    // Org A's token for another of its instances does not reach this instance's binding either.
    const otherInstance = await activeInstance(org.a.orgId);
    expect((await invoke(binding, body, await runToken({ orgId: org.a.orgId, instanceId: otherInstance }))).status).toBe(404);
    expect((await invoke(binding, { operation: 'delete_everything' }, good)).status).toBe(403);
    expect(await available(org.b.token)).toBe(before);
  });

  it('retries a failed idempotent operation; a non-idempotent one is tried once and not charged', async () => {
    const token = await runToken(org.a);
    tool.failNext(1);
    let count = tool.received.length;
    const read = await invoke(binding, { operation: 'flaky_read' }, token);
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(tool.received.length - count).toBe(2);

    const before = await available(org.a.token);
    tool.failNext(1);
    count = tool.received.length;
    const write = await invoke(binding, { operation: 'flaky_write', body: {} }, token);
    expect(write.status).toBe(502);
    expect(write.body).toMatchObject({ type: 'https://cmp.dev/problems/upstream-unavailable', upstream_status: 503 });
    expect(tool.received.length - count).toBe(1);
    expect(await available(org.a.token)).toBe(before);
    expect((await p.clients.db('connector_calls').where('id', write.body.call_id).first()).status).toBe('failed');
  });

  it('caps the size of an answer', async () => {
    const res = await invoke(binding, { operation: 'big' }, await runToken(org.a));
    expect(res.status).toBe(502);
    expect(res.body.reason).toBe('response-too-large');
  });
});

describe('egress', () => {
  const egressBinding = async (name: string, baseUrl: string) => bind({
    name, type: 'http', base_url: baseUrl, operations: [{ name: 'get', method: 'GET', path: '/', idempotent: true }, ...ops], secret: { kind: 'bearer', token: 'leak-me-not' },
  });

  it.each([
    ['loopback-other-port', () => `http://127.0.0.1:${tool.port + 1}`, 'loopback'],
    ['private-10', () => 'http://10.1.2.3', 'private'],
    ['metadata', () => 'http://169.254.169.254/latest/meta-data', 'cloud metadata'],
    ['private-name', () => 'http://internal.test', 'private'],
    ['localhost-name', () => `http://localhost:${tool.port + 1}`, 'loopback'],
  ])('refuses %s with an egress-refused problem and charges nothing', async (name, url, range) => {
    const id = await egressBinding(name, url());
    const before = await available(org.a.token);
    const count = tool.received.length;
    const res = await invoke(id, { operation: 'get' }, await runToken(org.a));
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({ type: 'https://cmp.dev/problems/egress-refused', reason: 'private-address', range });
    expect(res.body.detail).toContain('CONNECTOR_EGRESS_ALLOW');
    expect(await available(org.a.token)).toBe(before);
    expect(tool.received.length).toBe(count);
  });

  it('follows a redirect on the same host, and refuses one to a private address or another host', async () => {
    const token = await runToken(org.a);
    const ok = await invoke(binding, { operation: 'redirect', query: { to: '/api/items/r1' } }, token);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.result.id).toBe('r1');
    for (const to of ['http://169.254.169.254/latest/meta-data/iam', 'http://10.0.0.1/', `http://127.0.0.1:${tool.port + 1}/`]) {
      const res = await invoke(binding, { operation: 'redirect', query: { to } }, token);
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({ type: 'https://cmp.dev/problems/egress-refused', reason: 'private-address' });
    }
  });

  it('reaches the allowed tool through a name that resolves to it (pinned address, Host header kept)', async () => {
    const id = await egressBinding('by-name', `http://tools.test:${tool.port}/api`);
    const count = tool.received.length;
    const res = await invoke(id, { operation: 'get_item', params: { id: 'n1' } }, await runToken(org.a));
    expect(res.status).toBe(502); // the tool refuses the bearer secret: but the request did arrive, by name
    expect(tool.received.length).toBe(count + 1);
    expect(tool.received.at(-1)!.headers.host).toBe(`tools.test:${tool.port}`);
  });

  it('refuses the local tool server itself without the operator allow-list entry', async () => {
    const guard = new EgressGuard({ lookup });
    const err = await guard.request(new URL(`${tool.url}/api/items/1`), { method: 'GET' }, `127.0.0.1:${tool.port}`).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'egress-refused', reason: 'private-address' });
    const allowed = new EgressGuard({ lookup, allow: `127.0.0.1:${tool.port}` });
    expect((await allowed.request(new URL(`${tool.url}/api/items/1`), { method: 'GET', headers: { 'x-tool-key': TOOL_KEY } }, `127.0.0.1:${tool.port}`)).status).toBe(200);
  });
});
