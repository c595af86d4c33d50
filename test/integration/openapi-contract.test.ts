// The API keeps the contract it publishes: every route of /openapi.json,
// called the ways that produce its errors (no credentials, a signed-in user
// without the route's role, a body or query that cannot be valid, an id that
// does not exist), answers only statuses the document lists for it, and every
// error is application/problem+json.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';

let p: TestPlatform;
let buyer: string;

beforeAll(async () => {
  p = await startPlatform();
  buyer = (await loginAs('buyer@cmp.local')).accessToken;
  await p.call('POST', '/v1/orgs/auto', { token: buyer });
}, 240_000);
afterAll(async () => p?.close());

interface Operation {
  security?: unknown[];
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
}

const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';
/** OpenAI-compatible routes answer OpenAI's error shape (what its clients parse), by design. */
const OPENAI_COMPATIBLE = new Set(['/v1/models', '/v1/chat/completions']);

it('every documented route answers only documented statuses, and every error is problem+json', async () => {
  const doc = (await p.call('GET', '/openapi.json')).body as { paths: Record<string, Record<string, Operation>> };
  const undocumented: string[] = [];
  const notProblem: string[] = [];
  let calls = 0;
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (template.startsWith('/integrations/')) continue; // signed webhooks: their own test (purchase-to-provision)
      const path = template.replace(/\{[^}]+\}/g, NO_SUCH_ID);
      const ways: { name: string; token?: string; body?: unknown }[] = [{ name: 'anonymous', body: op.requestBody ? {} : undefined }];
      if (op.security?.length) {
        ways.push({ name: 'buyer, empty body', token: buyer, body: op.requestBody ? {} : undefined });
        if (op.requestBody) ways.push({ name: 'buyer, body not an object', token: buyer, body: '"nope"' });
      }
      for (const way of ways) {
        const res = await p.call(method.toUpperCase(), path, { token: way.token, body: way.body, headers: way.body === '"nope"' ? { 'content-type': 'application/json' } : {} });
        calls++;
        const where = `${method.toUpperCase()} ${template} (${way.name}) → ${res.status}`;
        if (!(String(res.status) in op.responses)) undocumented.push(where);
        if (res.status >= 400 && !OPENAI_COMPATIBLE.has(template) && !res.headers.get('content-type')?.startsWith('application/problem+json')) notProblem.push(`${where} ${res.headers.get('content-type')}`);
      }
    }
  }
  // An error answered under an Idempotency-Key replays as the same problem+json, marked as a replay.
  const replays: string[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!op.security?.length || !op.requestBody || !op.parameters?.some((x) => x.name === 'Idempotency-Key')) continue;
      const path = template.replace(/\{[^}]+\}/g, NO_SUCH_ID);
      const key = `contract-${method}-${template}`;
      const call = () => p.call(method.toUpperCase(), path, { token: buyer, body: { unexpected: true }, headers: { 'idempotency-key': key } });
      const [first, again] = [await call(), await call()];
      // Errors answered before the Idempotency-Key is read (no role, say) are not stored, so not replayed.
      if (first.status < 400 || again.headers.get('idempotent-replayed') !== 'true') continue;
      replays.push(`${method.toUpperCase()} ${template} ${first.status}`);
      expect(again.status).toBe(first.status);
      expect(again.body).toEqual(first.body);
      expect(again.headers.get('content-type'), `${method} ${template}`).toMatch(/^application\/problem\+json/);
    }
  }
  expect(replays.length).toBeGreaterThan(0);
  expect(calls).toBeGreaterThan(50);
  console.info(`openapi contract: ${calls} calls over ${Object.keys(doc.paths).length} paths`);
  expect(undocumented).toEqual([]);
  expect(notProblem).toEqual([]);
});
