// A connector call while Vault is unavailable, on a private OpenBao sealed
// for the outage (so no other test file sees the fault): a short outage is
// waited out and the call completes; an outage longer than the call's
// deadline fails it with a clear 503 and nothing is charged.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenBao, type OpenBaoService } from '../../deploy/local/openbao';
import { testLayout } from '../../deploy/local/stack';
import { issueRunToken } from '../../core/connectors';
import { connectorChargeId } from '../../core/connectors/contract';
import { freePort } from '../support/listeners';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';
import { startToolServer, type ToolServer } from '../support/tool-server';
import { until } from '../support/until';

const TOOL_KEY = 'vault-test-tool-key-123';
const DEADLINE_MS = 8_000;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-openbao-connectors-'));
const vaultToken = 'private-connectors-vault-token';
let port = 0;
let vault: OpenBaoService | undefined;
let p: TestPlatform;
let tool: ToolServer;
let user: string;
let orgId: string;
let instanceId: string;
let binding: string;

/** A sealed OpenBao answers every request 503 until it is unsealed: a real outage. */
const setVaultDown = (down: boolean) => (down ? vault!.seal() : vault!.unseal());

/** A connectorCall of this platform's queue whose secret read is on its second attempt or later. */
async function secretReadRetrying(): Promise<boolean> {
  for await (const wf of p.temporal.workflow.list({ query: `WorkflowType = 'connectorCall' AND ExecutionStatus = 'Running' AND TaskQueue = '${p.taskQueues.connectors}'` })) {
    const pending = (await p.temporal.workflow.getHandle(wf.workflowId).describe()).raw.pendingActivities ?? [];
    if (pending.some((a) => a.activityType?.name === 'readConnectorSecret' && (a.attempt ?? 0) >= 2)) return true;
  }
  return false;
}

const available = async () => (await p.call('GET', '/v1/wallet', { token: user })).body.available_mc as number;
const invoke = async () =>
  p.call('POST', `/v1/connectors/${binding}/invoke`, {
    headers: { authorization: `Bearer ${await issueRunToken({ orgId, instanceId, runId: crypto.randomUUID(), ttlMs: 60_000, signingSecret: p.config.SIGNING_SECRET })}` },
    body: { operation: 'get_item', params: { id: 'v1' } },
  });

beforeAll(async () => {
  port = await freePort();
  vault = await startOpenBao(testLayout(), { port, clusterPort: await freePort(), dataDir, token: vaultToken, name: `openbao-connectors-${port}` });
  tool = await startToolServer({ apiKey: TOOL_KEY });
  p = await startPlatform({
    connectors: {},
    configOverrides: {
      VAULT_ADDR: `http://127.0.0.1:${port}`, VAULT_TOKEN: vaultToken, CONNECTOR_EGRESS_ALLOW: `127.0.0.1:${tool.port}`,
      CONNECTOR_CALL_TIMEOUT_MS: String(DEADLINE_MS),
    },
  });
  user = (await loginAs('buyer@cmp.local')).accessToken;
  orgId = (await p.call('POST', '/v1/orgs/auto', { token: user })).body.org.id;
  const db = p.clients.db;
  const version = await db('offering_versions').where('id', p.versionIds['ticket-triage']).first();
  const plan = await db('plans').where({ offering_id: version.offering_id, code: 'free' }).first();
  instanceId = (await db('instances').insert({ org_id: orgId, offering_id: version.offering_id, offering_version_id: version.id, plan_id: plan.id, status: 'active' }).returning('id'))[0].id;
  const created = await p.call('POST', `/v1/instances/${instanceId}/connectors`, {
    token: user,
    body: { name: 'items', type: 'http', base_url: `${tool.url}/api`, operations: [{ name: 'get_item', method: 'GET', path: '/items/{id}', idempotent: true }], secret: { kind: 'api_key', header: 'x-tool-key', value: TOOL_KEY } },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  binding = created.body.id;
}, 240_000);
afterAll(async () => {
  await p?.close();
  await tool?.close();
  await vault?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('connector calls while Vault is unavailable', () => {
  it('waits out a short outage and completes within the deadline', async () => {
    const before = await available();
    await setVaultDown(true);
    const started = Date.now();
    const call = invoke();
    // The call met the outage: its secret read failed and is being retried (an attempt past the first).
    await until('the secret read retried against the sealed Vault', secretReadRetrying, DEADLINE_MS);
    expect(tool.received).toHaveLength(0);
    await setVaultDown(false);
    const res = await call;
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.result).toMatchObject({ id: 'v1' });
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS);
    expect(await available()).toBe(before - 100);
  });

  it('fails with a clear 503 after the deadline when Vault stays down, and charges nothing', async () => {
    const before = await available();
    const count = tool.received.length;
    await setVaultDown(true);
    try {
      const started = Date.now();
      const res = await invoke();
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body).toMatchObject({ type: 'https://cmp.dev/problems/service-unavailable', title: 'Secret store unavailable' });
      // Temporal stops retrying once the next backoff (≤ 2 s) would pass the deadline.
      expect(Date.now() - started).toBeGreaterThanOrEqual(DEADLINE_MS - 2_500);
      expect(Date.now() - started).toBeLessThan(DEADLINE_MS + 5_000);
      expect(tool.received.length).toBe(count);
      expect(await available()).toBe(before);
      const hold = await p.clients.ledger.getTransfer(connectorChargeId(res.body.call_id));
      expect(hold?.kind).toBe('pending');
      expect((await p.clients.ledger.getTransfer(`${connectorChargeId(res.body.call_id)}:release`))?.kind).toBe('void_pending');
      expect((await p.clients.db('connector_calls').where('id', res.body.call_id).first()).status).toBe('failed');
    } finally {
      await setVaultDown(false);
    }
  });
});
