// End to end on real Langflow: a flow whose custom component calls a bound
// HTTP tool through the connector gateway, with the run token the run path
// hands it as a tweak. The tool sees the secret; the flow's answer, the run
// record and Langflow's logs never do. The flow is test/fixtures/connector-probe
// (built with deploy/local/agents/build_flow.py), published as a catalog version.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateFlow } from '../../core/artifacts';
import { addVersionFromFlow } from '../../core/catalog/publishing';
import { repoRoot, testLayout } from '../../deploy/local/stack';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';
import { startToolServer, type ToolServer } from '../support/tool-server';

const TOOL_KEY = 'flow-test-tool-secret-5c4b3a';
let p: TestPlatform;
let tool: ToolServer;
let user: string;
let apiKey: string;
let binding: string;

beforeAll(async () => {
  tool = await startToolServer({ apiKey: TOOL_KEY });
  p = await startPlatform({ connectors: {}, configOverrides: { CONNECTOR_EGRESS_ALLOW: `127.0.0.1:${tool.port}` } });
  user = (await loginAs('buyer@cmp.local')).accessToken;
  const orgId = (await p.call('POST', '/v1/orgs/auto', { token: user })).body.org.id as string;

  // Publish the probe agent as a catalog version (artifact in S3, sha256 recorded).
  const catalog = p.clients.catalog;
  const offering = await catalog.upsertOffering(
    { slug: 'connector-probe', name: 'Connector Probe', summary: 'Test agent', description: 'Test agent', category: 'Test', publisher: 'CMP tests', demoEnabled: false, featured: false, exampleInputs: [] },
    'published',
  );
  await catalog.upsertPlan(offering.id, { code: 'free', name: 'Free', priceCents: 0, monthlyCreditsMc: 0, pricePerRunMc: 1000, rateLimitPerMinute: 60 });
  const flow = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/fixtures/connector-probe/flow.json'), 'utf8'));
  const version = await addVersionFromFlow({ catalog, artifacts: p.clients.artifacts, validateFlow: (f) => validateFlow(f).problems }, { offeringId: offering.id, version: '1.0.0', changelog: 'test', flow });
  await catalog.setVersionStatus(version.id, 'published');
  const plan = (await catalog.plansOf(offering.id))[0]!;
  // The subscription itself is provisioning's business (tested elsewhere); an active instance row is what runs need.
  const [instance] = await p.clients.db('instances')
    .insert({ org_id: orgId, offering_id: offering.id, offering_version_id: version.id, plan_id: plan.id, status: 'active', activated_at: p.clients.db.fn.now() })
    .returning('id');

  const created = await p.call('POST', `/v1/instances/${instance.id}/connectors`, {
    token: user,
    body: { name: 'items', type: 'http', base_url: `${tool.url}/api`, operations: [{ name: 'get_item', method: 'GET', path: '/items/{id}', idempotent: true }], secret: { kind: 'api_key', header: 'X-Tool-Key', value: TOOL_KEY } },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  binding = created.body.id;
  apiKey = (await p.call('POST', '/v1/api-keys', { token: user, body: { name: 'flow test' } })).body.secret;
}, 240_000);
afterAll(async () => {
  await p?.close();
  await tool?.close();
});

describe('a flow calls a bound tool through the gateway', () => {
  it('gets the tool result; the tool saw the secret; the flow, the run and the logs did not', async () => {
    const before = (await p.call('GET', '/v1/wallet', { token: user })).body.available_mc as number;
    const run = await p.call('POST', '/v1/runs', {
      headers: { authorization: `Bearer ${apiKey}` },
      body: { agent: 'connector-probe', input: JSON.stringify({ binding, item: 'widget-42' }) },
    });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    const answer = JSON.parse(run.body.output);
    expect(answer).toEqual({ ok: true, result: { id: 'widget-42', name: 'Item widget-42', q: null }, charged_mc: 100 });

    const seen = tool.received.at(-1)!;
    expect(seen.path).toBe('/api/items/widget-42');
    expect(seen.headers['x-tool-key']).toBe(TOOL_KEY);

    // The call is tied to the run that made it, and charged: the run's price plus the call's.
    const call = await p.clients.db('connector_calls').where({ binding_id: binding }).first();
    expect(call).toMatchObject({ run_id: run.body.run_id, status: 'succeeded', charged_mc: 100 });
    const after = (await p.call('GET', '/v1/wallet', { token: user })).body.available_mc as number;
    expect(before - after).toBe(run.body.credits_charged_mc + 100);

    expect(run.body.output).not.toContain(TOOL_KEY);
    const logDir = testLayout().logDir;
    for (const file of fs.readdirSync(logDir)) {
      const text = fs.readFileSync(path.join(logDir, file), 'utf8');
      expect(text, file).not.toContain(TOOL_KEY);
    }
    const runHistory = JSON.stringify(await p.temporal.workflow.getHandle(`run-${run.body.run_id}`).fetchHistory());
    expect(runHistory).not.toContain(TOOL_KEY);
    // The run token is minted inside the activity: not even it is in the run's history.
    expect(runHistory).not.toContain('cmp_run_token');
  });
});
