// The control plane's HTTP contract against real PostgreSQL, the real OIDC
// provider and S3: workspace and starter credits, catalog and its
// administration, API keys, idempotency, tenant isolation, the OpenAPI
// document, and no 500 for malformed input on any route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validate as validateOpenApi } from '@readme/openapi-parser';
import { ApiKeyStore } from '../../core/api-keys/store';
import { CatalogStore } from '../../core/catalog/store';
import { loadLaunchAgents } from '../../deploy/local/agents';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';

let p: TestPlatform;
let buyer: string;
let buyer2: string;
let admin: string;

beforeAll(async () => {
  p = await startPlatform({ startWorkers: false });
  [buyer, buyer2, admin] = (await Promise.all([loginAs('buyer@cmp.local'), loginAs('buyer2@cmp.local'), loginAs('admin@cmp.local')])).map((t) => t.accessToken) as [string, string, string];
});
afterAll(async () => p?.close());

describe('workspace', () => {
  it('creates the workspace once with the starter credits, even under concurrent calls', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, () => p.call('POST', '/v1/orgs/auto', { token: buyer })));
    expect(results.map((r) => r.status).filter((s) => s === 201), JSON.stringify(results.map((r) => [r.status, r.body?.detail]))).toHaveLength(1);
    expect(results.every((r) => r.status === 201 || r.status === 200)).toBe(true);
    const orgIds = new Set(results.map((r) => r.body.org.id));
    expect(orgIds.size).toBe(1);

    const wallet = await p.call('GET', `/v1/wallets/${results[0]!.body.wallet_id}`, { token: buyer });
    expect(wallet.status).toBe(200);
    expect(wallet.body.available_mc).toBe(p.config.STARTER_CREDITS * 1000);
    const statement = await p.call('GET', `/v1/wallets/${results[0]!.body.wallet_id}/transfers`, { token: buyer });
    expect(statement.body.items).toHaveLength(1);
    expect(statement.body.items[0]).toMatchObject({ label: 'grant', amount_mc: p.config.STARTER_CREDITS * 1000 });

    const me = await p.call('GET', '/v1/me', { token: buyer });
    expect(me.body).toMatchObject({ email: 'buyer@cmp.local', roles: ['buyer'] });
    expect(me.body.orgs).toHaveLength(1);
  });
});

describe('catalog', () => {
  it('lists the launch agents publicly with plans and their latest version', async () => {
    const list = await p.call('GET', '/v1/offerings');
    expect(list.status).toBe(200);
    const slugs = list.body.items.map((o: { slug: string }) => o.slug).sort();
    expect(slugs).toEqual(loadLaunchAgents().map((a) => a.meta.slug).sort());
    const first = list.body.items[0];
    expect(first.plans.map((x: { code: string }) => x.code)).toEqual(['free', 'plus', 'pro']);
    expect(first.latest_version).toBe('1.0.0');

    const search = await p.call('GET', '/v1/offerings?q=ticket');
    expect(search.body.items.map((o: { slug: string }) => o.slug)).toEqual(['ticket-triage']);
    const detail = await p.call('GET', '/v1/offerings/faq-answerer');
    expect(detail.body.versions[0]).toMatchObject({ version: '1.0.0', status: 'published' });
    expect(detail.body.versions[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await p.call('GET', '/v1/offerings/faq-answerer/versions')).body.items).toHaveLength(1);
    expect((await p.call('GET', '/v1/offerings/no-such-agent')).status).toBe(404);
    expect((await p.call('GET', '/v1/credit-packs')).body.items.length).toBeGreaterThan(0);
  });

  it('lets an admin add an offering with a validated flow version and publish it; buyers may not', async () => {
    const created = await p.call('POST', '/v1/admin/offerings', { token: admin, body: { slug: 'echo-agent', name: 'Echo', category: 'Utilities' } });
    expect(created.status).toBe(201);
    expect((await p.call('POST', '/v1/admin/offerings', { token: buyer, body: { slug: 'nope', name: 'Nope' } })).status).toBe(403);

    const bad = await p.call('POST', `/v1/admin/offerings/${created.body.id}/versions`, { token: admin, body: { version: '1.0.0', flow: { data: { nodes: [] } } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.length).toBeGreaterThan(0);

    const flow = loadLaunchAgents()[0]!.flow as unknown as Record<string, unknown>;
    const version = await p.call('POST', `/v1/admin/offerings/${created.body.id}/versions`, { token: admin, body: { version: '1.0.0', changelog: 'first', flow } });
    expect(version.status).toBe(201);
    expect(version.body.status).toBe('draft');
    // Versions are immutable: the same number with another artifact is a conflict.
    const other = await p.call('POST', `/v1/admin/offerings/${created.body.id}/versions`, { token: admin, body: { version: '1.0.0', flow: { ...flow, name: 'changed' } } });
    expect(other.status).toBe(409);

    expect((await p.call('PUT', `/v1/admin/offerings/${created.body.id}/plans/free`, { token: admin, body: { name: 'Free', price_cents: 0, monthly_credits_mc: 10_000, price_per_run_mc: 500, rate_limit_per_minute: 10 } })).status).toBe(200);
    // This file runs no workers, so the version's checks never run: publishing is refused (publishing.test.ts runs them).
    const unchecked = await p.call('POST', `/v1/admin/versions/${version.body.id}/publish`, { token: admin });
    expect(unchecked.status).toBe(409);
    expect(unchecked.body.type).toBe('https://cmp.dev/problems/version-checks-not-passed');
    // As the checks workflow ends when every check passed.
    await new CatalogStore(p.clients.db).finishVersionChecks(version.body.id, 'passed');
    expect((await p.call('POST', `/v1/admin/versions/${version.body.id}/publish`, { token: admin })).body.status).toBe('published');
    expect((await p.call('GET', '/v1/offerings/echo-agent')).status).toBe(404);
    expect((await p.call('PATCH', `/v1/admin/offerings/${created.body.id}`, { token: admin, body: { status: 'published' } })).status).toBe(200);
    const pub = await p.call('GET', '/v1/offerings/echo-agent');
    expect(pub.status).toBe(200);
    expect(pub.body.latest_version).toBe('1.0.0');
  });
});

describe('API keys', () => {
  it('shows the secret once, lists without it, and revokes immediately', async () => {
    await p.call('POST', '/v1/orgs/auto', { token: buyer });
    const created = await p.call('POST', '/v1/api-keys', { token: buyer, body: { name: 'ci' } });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^cmp_live_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const list = await p.call('GET', '/v1/api-keys', { token: buyer });
    expect(JSON.stringify(list.body)).not.toContain(created.body.secret);
    expect(list.body.items[0].prefix).toBe(created.body.prefix);

    const keys = new ApiKeyStore(p.clients.db);
    expect((await keys.authenticate(created.body.secret))?.id).toBe(created.body.id);
    expect(await keys.authenticate(created.body.secret.slice(0, -1) + (created.body.secret.endsWith('A') ? 'B' : 'A'))).toBeNull();
    expect((await p.call('DELETE', `/v1/api-keys/${created.body.id}`, { token: buyer })).status).toBe(200);
    expect(await keys.authenticate(created.body.secret)).toBeNull();
  });
});

describe('idempotency', () => {
  it('replays the stored answer for the same key and body, refuses another body', async () => {
    const headers = { 'Idempotency-Key': `key-${Date.now()}` };
    const first = await p.call('POST', '/v1/api-keys', { token: buyer, body: { name: 'once' }, headers });
    const replay = await p.call('POST', '/v1/api-keys', { token: buyer, body: { name: 'once' }, headers });
    expect(replay.status).toBe(first.status);
    expect(replay.body.id).toBe(first.body.id);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const keys = (await p.call('GET', '/v1/api-keys', { token: buyer })).body.items.filter((k: { name: string }) => k.name === 'once');
    expect(keys).toHaveLength(1);
    const reused = await p.call('POST', '/v1/api-keys', { token: buyer, body: { name: 'different' }, headers });
    expect(reused.status).toBe(422);
    expect(reused.body.type).toMatch(/idempotency-key-reused$/);
  });
});

describe('tenant isolation', () => {
  it("gives another organization's user 404 on every tenant route and changes nothing", async () => {
    const ws = (await p.call('POST', '/v1/orgs/auto', { token: buyer })).body;
    await p.call('POST', '/v1/orgs/auto', { token: buyer2 });
    const key = (await p.call('POST', '/v1/api-keys', { token: buyer, body: { name: 'mine' } })).body;
    const before = (await p.call('GET', `/v1/wallets/${ws.wallet_id}`, { token: buyer })).body.available_mc;

    expect((await p.call('GET', `/v1/wallets/${ws.wallet_id}`, { token: buyer2 })).status).toBe(404);
    expect((await p.call('GET', `/v1/wallets/${ws.wallet_id}/transfers`, { token: buyer2 })).status).toBe(404);
    expect((await p.call('DELETE', `/v1/api-keys/${key.id}`, { token: buyer2 })).status).toBe(404);
    expect((await p.call('GET', '/v1/api-keys', { token: buyer2, headers: { 'X-Org-Id': ws.org.id } })).status).toBe(404);
    expect((await p.call('GET', '/v1/instances', { token: buyer2, headers: { 'X-Org-Id': ws.org.id } })).status).toBe(404);
    expect((await p.call('GET', '/v1/usage', { token: buyer2, headers: { 'X-Org-Id': ws.org.id } })).status).toBe(404);
    expect((await p.call('GET', `/v1/instances/${ws.org.id}`, { token: buyer2 })).status).toBe(404);
    expect((await p.call('POST', '/v1/support/orders/x/retry', { token: buyer2, body: { reason: 'try' } })).status).toBe(403);

    const keys = (await p.call('GET', '/v1/api-keys', { token: buyer })).body.items;
    expect(keys.find((k: { id: string }) => k.id === key.id).revoked_at).toBeNull();
    expect((await p.call('GET', `/v1/wallets/${ws.wallet_id}`, { token: buyer })).body.available_mc).toBe(before);
  });
});

describe('HTTP contract', () => {
  it('serves a valid OpenAPI 3.1 document that matches the routes', async () => {
    const doc = (await p.call('GET', '/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const result = await validateOpenApi(structuredClone(doc));
    expect(result.valid, JSON.stringify((result as { errors?: unknown }).errors)).toBe(true);
    for (const path of ['/v1/offerings', '/v1/orgs/auto', '/v1/wallets/{id}/transfers', '/v1/api-keys', '/v1/instances', '/v1/usage', '/v1/billing/authorize', '/integrations/saleor/webhooks', '/v1/support/orders']) {
      expect(doc.paths[path], path).toBeDefined();
    }
    // Every documented operation answers (never the 404 of an unknown route).
    for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const concrete = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
        const r = await p.call(method.toUpperCase(), concrete, { body: method === 'get' || method === 'delete' ? undefined : {} });
        expect(r.body?.detail ?? '', `${method} ${path}`).not.toMatch(/^No route for/);
      }
    }
    const page = await fetch(`${p.url}/docs`);
    expect(await page.text()).toContain('CMP API reference');
  });

  it('never answers 500 to malformed input, missing or forged tokens', async () => {
    const doc = (await p.call('GET', '/openapi.json')).body;
    const forged = `${buyer.split('.').slice(0, 2).join('.')}.${Buffer.from('forged').toString('base64url')}`;
    const bodies: (string | undefined)[] = [
      '{"unterminated', '[]', '"a string"', '{"name": 12, "amount_mc": "lots", "items": {}}', JSON.stringify({ name: 'x'.repeat(300_000) }),
      Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('latin1'), undefined,
    ];
    const seen: string[] = [];
    for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
      for (const method of Object.keys(ops)) {
        for (const token of [undefined, forged, buyer]) {
          for (const body of method === 'get' ? [undefined] : bodies) {
            const concrete = path.replace(/\{[^}]+\}/g, 'not-a-valid-id');
            const res = await fetch(`${p.url}${concrete}?limit=abc&cursor=%%%`, {
              method: method.toUpperCase(),
              headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
              body,
            });
            seen.push(`${res.status} ${method} ${path}`);
            expect(res.status, `${method} ${path}`).toBeLessThan(500);
            // OpenAI-compatible routes answer errors in OpenAI's shape, which its SDKs parse; every other route in problem+json.
            const openAi = (((ops as Record<string, { tags?: string[] }>)[method])?.tags ?? []).includes('OpenAI-compatible');
            if (res.status >= 400 && openAi) expect(((await res.json()) as { error?: { message?: unknown } }).error?.message, `${method} ${path}`).toEqual(expect.any(String));
            else if (res.status >= 400) expect(res.headers.get('content-type'), `${method} ${path}`).toContain('application/problem+json');
          }
        }
      }
    }
    expect(seen.length).toBeGreaterThan(100);
  });
});
