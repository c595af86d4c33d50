// Publishing through the admin API on the real stack (Keycloak, Temporal,
// SeaweedFS, Langflow, PostgreSQL, the Saleor sandbox): an upload is hashed,
// validated against the allow-list and stored; its checks run as a workflow
// (stored, registered on Langflow, every example input run); publishing is
// refused until they pass, or when S3's object no longer matches; plan and
// credit pack changes sync to Saleor and the result is recorded; retiring a
// version stops new subscriptions while existing instances keep running.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';
import { exampleTickets, failingFlow, forbiddenFlow, sha256, workingFlow } from '../support/publisher-flows';
import { until } from '../support/until';

let p: TestPlatform;
let admin: string;
let buyer: string;

beforeAll(async () => {
  p = await startPlatform();
  [admin, buyer] = (await Promise.all([loginAs('admin@cmp.local'), loginAs('buyer@cmp.local')])).map((t) => t.accessToken) as [string, string];
});

afterAll(async () => {
  await p?.close();
});

async function newOffering(slug: string, exampleInputs = exampleTickets): Promise<string> {
  const created = await p.call('POST', '/v1/admin/offerings', {
    token: admin, body: { slug, name: `Agent ${slug}`, summary: 'Test agent', category: 'Testing', example_inputs: exampleInputs },
  });
  expect(created.status).toBe(201);
  return created.body.id;
}

const upload = (offeringId: string, version: string, flowJson: string, claimed = sha256(flowJson)) =>
  p.call('POST', `/v1/admin/offerings/${offeringId}/versions`, { token: admin, body: { version, changelog: 'test', flow_json: flowJson, sha256: claimed } });

const checked = (versionId: string) =>
  until('checks finished', async () => {
    const v = (await p.call('GET', `/v1/admin/versions/${versionId}`, { token: admin })).body;
    return ['passed', 'failed'].includes(v.checks_status) ? v : null;
  }, 120_000);

describe('uploading and checking a version', () => {
  it('stores the exact bytes under their sha256, runs the checks on Langflow, and publishes only then; buyers subscribe and call it; retiring keeps their instance', { timeout: 240_000 }, async () => {
    const id = await newOffering('checked-agent');
    const text = workingFlow();
    const version = await upload(id, '1.0.0', text);
    expect(version.status).toBe(201);
    expect(version.body.sha256).toBe(sha256(text));
    expect(version.body.checks[0]).toMatchObject({ name: 'validation', status: 'passed' });
    expect(['pending', 'running', 'passed']).toContain(version.body.checks_status);

    // Not yet checked: refused, with a stable problem type.
    const early = await p.call('GET', `/v1/admin/versions/${version.body.id}`, { token: admin });
    if (early.body.checks_status !== 'passed') {
      const refused = await p.call('POST', `/v1/admin/versions/${version.body.id}/publish`, { token: admin });
      expect(refused.status).toBe(409);
      expect(refused.body.type).toBe('https://cmp.dev/problems/version-checks-not-passed');
    }

    const done = await checked(version.body.id);
    expect(done.checks_status).toBe('passed');
    expect(done.checks.map((c: { name: string }) => c.name)).toEqual(['validation', 'stored', 'registered', 'example 1', 'example 2']);
    expect(done.checks.find((c: { name: string }) => c.name === 'example 1')).toMatchObject({ status: 'passed', input: exampleTickets[0], detail: expect.stringContaining('P1') });
    expect(done.runtime_flow_id).toMatch(/^[0-9a-f-]{36}$/);
    // Check runs are nobody's runs: nothing billed, nothing counted.
    expect((await p.clients.db('runs').where('offering_id', id)).length).toBe(0);

    expect((await p.call('PUT', `/v1/admin/offerings/${id}/plans/free`, { token: admin, body: { name: 'Free', price_cents: 0, monthly_credits_mc: 10_000, price_per_run_mc: 500, rate_limit_per_minute: 10 } })).status).toBe(200);
    const published = await p.call('POST', `/v1/admin/versions/${version.body.id}/publish`, { token: admin });
    expect(published.status).toBe(200);
    expect((await p.call('PATCH', `/v1/admin/offerings/${id}`, { token: admin, body: { status: 'published' } })).status).toBe(200);

    await p.call('POST', '/v1/orgs/auto', { token: buyer });
    const sub = await p.call('POST', '/v1/instances', { token: buyer, body: { offering: 'checked-agent', plan: 'free' } });
    expect(sub.status).toBe(202);
    await until('instance active', async () => (await p.call('GET', `/v1/orders/${sub.body.order_id}`, { token: buyer })).body.status === 'fulfilled', 90_000);
    const key = await p.call('POST', '/v1/api-keys', { token: buyer, body: { name: 'checked', instance_id: sub.body.instance_id } });
    expect(key.status).toBe(201);
    const call = () => p.call('POST', '/v1/runs', { headers: { authorization: `Bearer ${key.body.secret}` }, body: { agent: 'checked-agent', input: exampleTickets[1] } });
    expect((await call()).body).toMatchObject({ status: 'succeeded', output: expect.stringContaining('Ticket triage') });

    // Retired: no new subscriptions, the existing instance keeps its version and keeps answering.
    expect((await p.call('POST', `/v1/admin/versions/${version.body.id}/retire`, { token: admin })).body.status).toBe('retired');
    expect((await call()).body).toMatchObject({ status: 'succeeded' });
    const other = (await loginAs('buyer2@cmp.local')).accessToken;
    await p.call('POST', '/v1/orgs/auto', { token: other });
    const refused = await p.call('POST', '/v1/instances', { token: other, body: { offering: 'checked-agent', plan: 'free' } });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain('no published version');

    const stats = await p.call('GET', `/v1/admin/offerings/${id}/stats`, { token: admin });
    expect(stats.body.days).toHaveLength(30);
    const today = stats.body.days.at(-1);
    expect(today).toMatchObject({ subscriptions: 1, runs: 2, failed_runs: 0 });
    expect(today.credits_mc).toBe(1000);
    expect(stats.body.active_instances).toBe(1);
  });

  it('refuses a flow with a component outside the allow-list, naming it', async () => {
    const id = await newOffering('forbidden-agent');
    const res = await upload(id, '1.0.0', forbiddenFlow());
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.errors.map((e: { message: string }) => e.message).join('\n')).toMatch(/Component "PythonREPLComponent" \(node "[^"]+"\) is not on the allowed list/);
    expect((await p.call('GET', '/v1/admin/offerings/forbidden-agent', { token: admin })).body.versions).toEqual([]);
  });

  it('refuses an upload whose bytes do not hash to the sha256 the uploader computed, and a flow too large or not JSON', async () => {
    const id = await newOffering('tampered-agent');
    const text = workingFlow();
    const res = await upload(id, '1.0.0', text.replace('Ticket Triage', 'Ticket Trickery'), sha256(text));
    expect(res.status).toBe(422);
    expect(res.body.type).toBe('https://cmp.dev/problems/upload-hash-mismatch');
    expect(res.body.detail).toContain('changed on the way');
    const notJson = await upload(id, '1.0.0', '{"data": ');
    expect(notJson.status).toBe(400);
    expect(notJson.body.errors[0].message).toMatch(/not valid JSON/);
    const huge = JSON.stringify({ ...JSON.parse(text), padding: 'x'.repeat(p.config.FLOW_MAX_BYTES) });
    const tooLarge = await upload(id, '1.0.0', huge);
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.errors[0].message).toMatch(/the limit is 1024 KiB/);
    expect((await p.call('GET', '/v1/admin/offerings/tampered-agent', { token: admin })).body.versions).toEqual([]);
  });

  it('refuses to publish a version whose example inputs fail, showing each failure', { timeout: 180_000 }, async () => {
    const id = await newOffering('failing-agent');
    const version = await upload(id, '1.0.0', failingFlow());
    expect(version.status).toBe(201);
    const done = await checked(version.body.id);
    expect(done.checks_status).toBe('failed');
    const examples = done.checks.filter((c: { name: string }) => c.name.startsWith('example'));
    expect(examples).toHaveLength(2);
    for (const c of examples) expect(c.status).toBe('failed');
    const refused = await p.call('POST', `/v1/admin/versions/${version.body.id}/publish`, { token: admin });
    expect(refused.status).toBe(409);
    expect(refused.body.type).toBe('https://cmp.dev/problems/version-checks-not-passed');
    expect(refused.body.failed_checks).toEqual(['example 1', 'example 2']);
  });

  it('refuses to publish a checked version once the object in S3 no longer matches its sha256', { timeout: 180_000 }, async () => {
    const id = await newOffering('swapped-agent');
    const version = await upload(id, '1.0.0', workingFlow().replace('"Ticket Triage"', '"Ticket Triage (swapped)"'));
    expect((await checked(version.body.id)).checks_status).toBe('passed');
    const v = await p.clients.db('offering_versions').where('id', version.body.id).first();
    await p.clients.artifacts.client.send(new PutObjectCommand({ Bucket: p.config.S3_ARTIFACT_BUCKET, Key: v.artifact_key, Body: '{"data":{"nodes":[],"edges":[]}}' }));
    const refused = await p.call('POST', `/v1/admin/versions/${version.body.id}/publish`, { token: admin });
    expect(refused.status).toBe(409);
    expect(refused.body.type).toBe('https://cmp.dev/problems/artifact-integrity');
    expect((await p.call('GET', `/v1/admin/versions/${version.body.id}`, { token: admin })).body.status).toBe('draft');
  });
});

describe('prices and their sync to Saleor', () => {
  it('records the sync of a plan change and of a credit pack change', { timeout: 120_000 }, async () => {
    const id = await newOffering('priced-agent');
    const plan = await p.call('PUT', `/v1/admin/offerings/${id}/plans/plus`, {
      token: admin, body: { name: 'Plus', price_cents: 1500, monthly_credits_mc: 500_000, price_per_run_mc: 800, price_per_1k_tokens_mc: 20, rate_limit_per_minute: 60 },
    });
    expect(plan.status).toBe(200);
    const detail = await until('plan synced', async () => {
      const d = (await p.call('GET', '/v1/admin/offerings/priced-agent', { token: admin })).body;
      return d.sync?.status === 'succeeded' ? d : null;
    });
    expect(detail.sync.variants).toBeGreaterThanOrEqual(1);
    expect(detail.all_plans[0]).toMatchObject({ code: 'plus', price_cents: 1500, purchasable: true, status: 'published' });

    const pack = await p.call('PUT', '/v1/admin/credit-packs/test-pack', { token: admin, body: { name: 'Test pack', credits_mc: 42_000, price_cents: 420 } });
    expect(pack.status).toBe(200);
    const packs = await until('packs synced', async () => {
      const b = (await p.call('GET', '/v1/admin/credit-packs', { token: admin })).body;
      return b.sync?.status === 'succeeded' ? b : null;
    });
    expect(packs.items.find((x: { code: string }) => x.code === 'test-pack')).toMatchObject({ purchasable: true, status: 'published' });
    expect(packs.sync.finished_at).toBeTruthy();
    expect((await p.call('GET', '/v1/admin/credit-packs', { token: buyer })).status).toBe(403);
  });
});
