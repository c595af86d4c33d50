// connectorCall on the time-skipping test server with typed fakes of the
// connector activities: the charge is held, settled only for a call that
// answered, released otherwise; a tool is retried only when its operation is
// idempotent; the secret store gets the call's deadline and no more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ConnectorActivities } from '../../activities/connectors';
import type { ConnectorBinding } from '../../core/connectors/types';
import { connectorCallWorkflowId, type ConnectorCallOutcome, type ConnectorCallRequest } from '../../core/connectors/contract';
import { startTimeSkipping, testWorker } from '../support/workflow-env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  env = await startTimeSkipping();
}, 60_000);
afterAll(async () => env?.teardown());

const binding: ConnectorBinding = {
  id: 'bind-1', orgId: 'org-1', instanceId: 'inst-1', name: 'helpdesk', type: 'http', baseUrl: 'http://127.0.0.1:9/',
  operations: [
    { name: 'get_ticket', method: 'GET', path: '/tickets/{id}', idempotent: true },
    { name: 'create_ticket', method: 'POST', path: '/tickets', idempotent: false },
  ],
  mcpTools: null, secret: { kind: 'bearer', header: null, path: 'connectors/bind-1', version: 1, rotatedAt: '2026-12-01T00:00:00Z' },
  pricePerCallMc: 250, createdAt: '2026-12-01T00:00:00Z', updatedAt: '2026-12-01T00:00:00Z',
};

interface World {
  availableMc: number;
  held: number;
  settled: number[];
  released: number;
  toolCalls: number;
  secretReads: number;
  recorded: { status: string; chargedMc: number; errorType: string | null }[];
}

function connectorFakes(overrides: Partial<ConnectorActivities> = {}, availableMc = 10_000) {
  const world: World = { availableMc, held: 0, settled: [], released: 0, toolCalls: 0, secretReads: 0, recorded: [] };
  const fakes: ConnectorActivities = {
    async authorizeCall(input) {
      if (input.orgId !== binding.orgId) return { ok: false, problem: { type: 'not-found', title: 'Not found', detail: `Connector ${input.bindingId} was not found` } };
      const op = binding.operations.find((o) => o.name === input.operation)!;
      return { ok: true, binding, idempotent: op.idempotent, priceMc: binding.pricePerCallMc };
    },
    async holdCallCredits(input) {
      if (world.availableMc < input.amountMc) return { ok: false, availableMc: world.availableMc };
      world.availableMc -= input.amountMc;
      world.held = input.amountMc;
      return { ok: true };
    },
    async settleCallCredits(input) {
      world.settled.push(input.amountMc);
      world.availableMc += world.held - input.amountMc;
      world.held = 0;
    },
    async releaseCallCredits() {
      world.released++;
      world.availableMc += world.held;
      world.held = 0;
    },
    async readConnectorSecret() {
      world.secretReads++;
      return { sealed: 'sealed', version: 1 };
    },
    async executeToolCall() {
      world.toolCalls++;
      return { upstreamStatus: 200, contentType: 'application/json', body: { id: 7 }, requestBytes: 10, responseBytes: 20 };
    },
    async recordConnectorCall(input) {
      world.recorded.push({ status: input.status, chargedMc: input.chargedMc, errorType: input.errorType });
    },
    ...overrides,
  };
  return { fakes, world };
}

let calls = 0;
async function call(fakes: ConnectorActivities, overrides: Partial<ConnectorCallRequest> = {}): Promise<ConnectorCallOutcome> {
  const req: ConnectorCallRequest = {
    callId: `call-${process.pid}-${++calls}`, bindingId: binding.id, orgId: 'org-1', instanceId: 'inst-1', runId: null,
    call: { operation: 'get_ticket', params: { id: 7 } }, deadlineMs: 10_000, toolTimeoutMs: 2_000, ...overrides,
  };
  const { worker, taskQueue } = await testWorker(env, fakes);
  return worker.runUntil(env.client.workflow.execute('connectorCall', { taskQueue, workflowId: connectorCallWorkflowId(req.callId), args: [req] }));
}

const unavailable = (message: string) => ApplicationFailure.create({ message, type: 'ToolUnavailableError', nonRetryable: false, details: [{ upstream_status: 503 }] });

describe('connectorCall', () => {
  it('charges a call that answered, once, and records it', async () => {
    const { fakes, world } = connectorFakes();
    const outcome = await call(fakes);
    expect(outcome).toMatchObject({ status: 'succeeded', upstreamStatus: 200, body: { id: 7 }, chargedMc: 250 });
    expect(world.settled).toEqual([250]);
    expect(world.availableMc).toBe(9_750);
    expect(world.recorded).toEqual([{ status: 'succeeded', chargedMc: 250, errorType: null }]);
  });

  it("refuses a binding that is not the token's org: nothing held, nothing recorded", async () => {
    const { fakes, world } = connectorFakes();
    const outcome = await call(fakes, { orgId: 'org-2' });
    expect(outcome).toMatchObject({ status: 'refused', problem: { type: 'not-found' } });
    expect(world.secretReads + world.toolCalls + world.settled.length).toBe(0);
    expect(world.recorded).toEqual([]);
  });

  it('rejects a call the wallet cannot pay: the tool is not called', async () => {
    const { fakes, world } = connectorFakes({}, 249);
    const outcome = await call(fakes);
    expect(outcome).toMatchObject({ status: 'rejected', problem: { type: 'insufficient-credits', extensions: { available_mc: 249, required_mc: 250 } } });
    expect(world.toolCalls).toBe(0);
    expect(world.recorded).toEqual([{ status: 'rejected', chargedMc: 0, errorType: 'insufficient-credits' }]);
  });

  it('retries an idempotent operation until it answers, and charges once', async () => {
    let attempts = 0;
    const { fakes, world } = connectorFakes({
      executeToolCall: async () => {
        if (++attempts < 3) throw unavailable('the tool answered 503');
        return { upstreamStatus: 200, contentType: null, body: 'ok', requestBytes: 1, responseBytes: 2 };
      },
    });
    const outcome = await call(fakes);
    expect(outcome.status).toBe('succeeded');
    expect(attempts).toBe(3);
    expect(world.settled).toEqual([250]);
  });

  it('calls a non-idempotent operation at most once: a failure releases the charge', async () => {
    let attempts = 0;
    const { fakes, world } = connectorFakes({
      executeToolCall: async () => {
        attempts++;
        throw unavailable('the tool answered 503');
      },
    });
    const outcome = await call(fakes, { call: { operation: 'create_ticket', body: { title: 't' } } });
    expect(outcome).toMatchObject({ status: 'failed', problem: { type: 'upstream-unavailable', extensions: { upstream_status: 503 } } });
    expect(attempts).toBe(1);
    expect(world.settled).toEqual([]);
    expect(world.released).toBe(1);
    expect(world.availableMc).toBe(10_000);
    expect(world.recorded).toEqual([{ status: 'failed', chargedMc: 0, errorType: 'upstream-unavailable' }]);
  });

  it('waits for the secret store no longer than the call deadline, then fails and releases the charge', async () => {
    const { fakes, world } = connectorFakes({
      readConnectorSecret: async () => {
        world.secretReads++;
        throw ApplicationFailure.create({ message: 'Vault is sealed', type: 'SecretStoreUnavailableError', nonRetryable: false });
      },
    });
    const outcome = await call(fakes, { deadlineMs: 5_000 });
    expect(outcome).toMatchObject({ status: 'failed', problem: { type: 'service-unavailable' } });
    expect(world.secretReads).toBeGreaterThan(1);
    expect(world.toolCalls).toBe(0);
    expect(world.released).toBe(1);
    expect(world.availableMc).toBe(10_000);
  });
});
