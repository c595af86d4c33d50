// Purchase-to-provision against the real Temporal dev server, PostgreSQL,
// Langflow, S3 and the local stand-ins (Saleor and Vault sandboxes, a local
// GitOps repository). The API listens on the test layout's API port, where the
// Saleor sandbox delivers its signed webhooks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalGitRepo, instanceManifestPath } from '../../core/gitops';
import { instanceSecretPath } from '../../core/secrets';
import { testLayout } from '../../deploy/local/stack';
import { orderWorkflowId } from '../../core/provisioning/contract';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';
import { until } from '../support/until';
import { spawnWorker } from '../support/worker-process';

let p: TestPlatform;
let buyer: string;
let support: string;
let saleorUrl: string;


async function orderStatus(orderId: string, token = buyer) {
  return (await p.call('GET', `/v1/orders/${encodeURIComponent(orderId)}`, { token })).body;
}

/** The order as support sees it: with the unwind report (the buyer's view leaves it out) and the audit trail. */
async function supportView(orderId: string) {
  return (await p.call('GET', `/v1/support/orders/${encodeURIComponent(orderId)}`, { token: support })).body;
}

async function payInSandbox(paymentUrl: string): Promise<string> {
  const res = await fetch(paymentUrl, { method: 'POST', body: new URLSearchParams({ action: 'pay', return_url: 'http://127.0.0.1:1/return' }), redirect: 'manual' });
  const location = res.headers.get('location');
  expect(location, await res.text()).toBeTruthy();
  return new URL(location!).searchParams.get('order_id')!;
}

async function sandbox(pathname: string, body?: unknown) {
  const res = await fetch(`${saleorUrl}${pathname}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.json() as Promise<any>;
}

beforeAll(async () => {
  p = await startPlatform({ port: testLayout().ports.api });
  saleorUrl = new URL(p.config.SALEOR_API_URL).origin;
  [buyer, support] = (await Promise.all([loginAs('buyer@cmp.local'), loginAs('support@cmp.local')])).map((t) => t.accessToken) as [string, string];
  await p.call('POST', '/v1/orgs/auto', { token: buyer });
  // Paid plans and credit packs become sellable once synced to Saleor.
  const offerings = (await p.call('GET', '/v1/offerings')).body.items as { id: string }[];
  for (const o of offerings) {
    await p.temporal.workflow.execute('syncCatalogToSaleor', { workflowId: `catalog-sync-${o.id}-${Date.now()}`, taskQueue: p.taskQueues.provisioning, args: [{ offeringId: o.id }] });
  }
}, 240_000);
afterAll(async () => p?.close());

describe('free subscription', () => {
  it('provisions an active instance: flow registered, secrets written, manifest committed, allowance granted; then a run is charged exactly', async () => {
    const walletBefore = (await p.call('GET', '/v1/wallet', { token: buyer })).body.available_mc;
    const sub = await p.call('POST', '/v1/instances', { token: buyer, body: { offering: 'ticket-triage', plan: 'free' } });
    expect(sub.status).toBe(202);
    const done = await until('order fulfilled', async () => {
      const o = await orderStatus(sub.body.order_id);
      return o.status === 'fulfilled' ? o : null;
    });
    expect(done.progress.steps.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(['verify flow artifact', 'register flow', 'write secrets', 'commit manifests', 'activate']));
    const instance = (await p.call('GET', `/v1/instances/${sub.body.instance_id}`, { token: buyer })).body;
    expect(instance.status).toBe('active');
    expect(instance.gitops_commit_sha).toMatch(/^[0-9a-f]{40}$/);

    const repo = new LocalGitRepo({ gitDir: p.config.GITOPS_LOCAL_REPO });
    const manifest = await repo.readFile(instanceManifestPath(instance.org_id, instance.id));
    expect(manifest).toContain('ticket-triage');
    expect((await p.clients.secrets.read(instanceSecretPath(instance.org_id, instance.id, 'runtime')))?.data.instance_token).toBeTruthy();
    const row = await p.clients.db('instances').where('id', instance.id).first();
    expect(row.runtime_flow_id).toBeTruthy();

    const plan = (await p.call('GET', '/v1/offerings/ticket-triage')).body.plans.find((x: { code: string }) => x.code === 'free');
    const walletAfter = (await p.call('GET', '/v1/wallet', { token: buyer })).body.available_mc;
    expect(walletAfter - walletBefore).toBe(plan.monthly_credits_mc);

    // A run through the API: the real flow's output, exactly the plan's price debited, hold and settlement on the statement.
    const key = (await p.call('POST', '/v1/api-keys', { token: buyer, body: { name: 'test' } })).body.secret as string;
    const run = await p.call('POST', '/v1/runs', {
      headers: { authorization: `Bearer ${key}` },
      body: { agent: 'ticket-triage', input: 'I was charged twice for my Plus plan this month, invoice INV-2024-0931. Please refund the duplicate charge.' },
    });
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    expect(run.body.output.toLowerCase()).toContain('billing');
    expect(run.body.credits_charged_mc).toBe(plan.price_per_run_mc);
    expect(run.body.balance_mc).toBe(walletAfter - plan.price_per_run_mc);
    expect(run.headers.get('ratelimit')).toMatch(/limit=\d+, remaining=\d+/);
    const walletId = (await p.call('GET', '/v1/wallet', { token: buyer })).body.wallet_id;
    const statement = (await p.call('GET', `/v1/wallets/${walletId}/transfers`, { token: buyer })).body.items;
    const forRun = statement.filter((e: { run_id: string | null }) => e.run_id === run.body.run_id).map((e: { label: string }) => e.label).sort();
    expect(forRun).toEqual(['hold', 'settlement']);
    const fetched = await p.call('GET', `/v1/runs/${run.body.run_id}`, { headers: { authorization: `Bearer ${key}` } });
    await until('run row', async () => (await p.call('GET', `/v1/runs/${run.body.run_id}`, { headers: { authorization: `Bearer ${key}` } })).body.status === 'succeeded');
    expect(fetched.status).toBe(200);
    // The run row is written just after the answer (the early return), so usage catches up a moment later.
    const usage = await until('usage shows the run', async () => {
      const u = (await p.call('GET', '/v1/usage?days=1', { token: buyer })).body;
      return u.totals.runs >= 1 ? u : null;
    });
    expect(usage.totals.credits_mc).toBe(plan.price_per_run_mc);

    // Unsubscribe: deprovisioning undoes the side effects and ends deprovisioned.
    expect((await p.call('DELETE', `/v1/instances/${instance.id}`, { token: buyer })).status).toBe(202);
    await until('deprovisioned', async () => (await p.call('GET', `/v1/instances/${instance.id}`, { token: buyer })).body.status === 'deprovisioned');
    await until('manifest removed', async () => (await repo.readFile(instanceManifestPath(instance.org_id, instance.id))) === null);
    expect(await p.clients.secrets.read(instanceSecretPath(instance.org_id, instance.id, 'runtime'))).toBeNull();
  });

  it('parks a hash mismatch as needs_attention; support fixes the catalog and retries; it turns active', async () => {
    const version = await p.clients.db('offering_versions').where('id', p.versionIds['faq-answerer']).first();
    await p.clients.db('offering_versions').where('id', version.id).update({ sha256: 'f'.repeat(64) });
    const sub = await p.call('POST', '/v1/instances', { token: buyer, body: { offering: 'faq-answerer', plan: 'free' } });
    const parked = await until('needs attention', async () => {
      const o = await orderStatus(sub.body.order_id);
      return o.status === 'needs_attention' ? o : null;
    });
    expect(parked.last_error).toMatchObject({ step: 'verify flow artifact', type: 'ArtifactIntegrityError' });
    const list = (await p.call('GET', '/v1/support/orders?filter=needs_attention', { token: support })).body.items;
    expect(list.map((o: { order_id: string }) => o.order_id)).toContain(sub.body.order_id);
    const detail = (await p.call('GET', `/v1/support/orders/${sub.body.order_id}`, { token: support })).body;
    expect(detail.temporal_url).toContain(orderWorkflowId(sub.body.order_id));

    expect((await p.call('POST', `/v1/support/orders/${sub.body.order_id}/retry`, { token: buyer, body: { reason: 'fixed' } })).status).toBe(403);
    expect((await p.call('POST', `/v1/support/orders/${sub.body.order_id}/retry`, { token: support, body: {} })).status).toBe(400);
    await p.clients.db('offering_versions').where('id', version.id).update({ sha256: version.sha256 });
    expect((await p.call('POST', `/v1/support/orders/${sub.body.order_id}/retry`, { token: support, body: { reason: 'catalog hash restored' } })).status).toBe(202);
    await until('fulfilled after retry', async () => (await orderStatus(sub.body.order_id)).status === 'fulfilled');
    expect((await p.call('GET', `/v1/instances/${sub.body.instance_id}`, { token: buyer })).body.status).toBe('active');
    const audit = (await p.call('GET', `/v1/support/orders/${sub.body.order_id}`, { token: support })).body.audit;
    expect(audit[0]).toMatchObject({ action: 'order.retry', reason: 'catalog hash restored' });
  });
});

describe('paid order through Saleor', () => {
  it('checkout → pay → signed webhook → instance active and order fulfilled in Saleor', async () => {
    const checkout = await p.call('POST', '/v1/checkout', { token: buyer, body: { items: [{ type: 'plan', offering: 'ticket-triage', plan: 'plus' }] } });
    expect(checkout.status, JSON.stringify(checkout.body)).toBe(201);
    expect(checkout.body.total_cents).toBe(1990);
    const orderId = await payInSandbox(checkout.body.payment_url);
    const done = await until('paid order fulfilled', async () => {
      const o = await p.call('GET', `/v1/orders/${encodeURIComponent(orderId)}`, { token: buyer });
      return o.status === 200 && o.body.status === 'fulfilled' ? o.body : null;
    }, 45_000, () => orderStatus(orderId));
    expect(done.instances[0]).toMatchObject({ status: 'active', plan_code: 'plus' });
    const inSaleor = await until('fulfilled in Saleor', async () => {
      const o = await sandbox(`/_sandbox/orders/${encodeURIComponent(orderId)}`);
      return o.view?.status === 'FULFILLED' ? o : null;
    });
    expect(inSaleor.view.lines.every((l: { quantityFulfilled: number; quantity: number }) => l.quantityFulfilled === l.quantity)).toBe(true);
    expect(inSaleor.view.metadata).toContainEqual({ key: 'cmp_status', value: 'fulfilled' });
  });

  it('20 concurrent duplicate webhooks: one workflow, one credit grant', async () => {
    const walletBefore = (await p.call('GET', '/v1/wallet', { token: buyer })).body.available_mc;
    const pack = (await p.call('GET', '/v1/credit-packs')).body.items[0];
    const checkout = await p.call('POST', '/v1/checkout', { token: buyer, body: { items: [{ type: 'credit_pack', code: pack.code, quantity: 1 }] } });
    const orderId = await payInSandbox(checkout.body.payment_url);
    await Promise.all(Array.from({ length: 20 }, () => sandbox(`/_sandbox/orders/${encodeURIComponent(orderId)}/redeliver`, {})));
    await until('credits granted', async () => (await orderStatus(orderId)).status === 'fulfilled');
    await until('all deliveries seen', async () => ((await p.clients.db('webhook_events').where('subject_id', orderId).first())?.deliveries ?? 0) >= 21, 30_000);
    const grants = await p.clients.db('transfers').where('order_id', orderId);
    expect(grants).toHaveLength(1);
    expect((await p.call('GET', '/v1/wallet', { token: buyer })).body.available_mc - walletBefore).toBe(pack.credits_mc);
    const workflows = [];
    for await (const wf of p.temporal.workflow.list({ query: `WorkflowId = '${orderWorkflowId(orderId)}'` })) workflows.push(wf);
    expect(workflows).toHaveLength(1);
  });

  it('rejects forged, unknown-key and altered deliveries and stores nothing', async () => {
    const body = JSON.stringify({ order: { id: 'T3JkZXI6forged' } });
    const header = Buffer.from(JSON.stringify({ alg: 'RS256', b64: false, crit: ['b64'], kid: 'unknown-kid' })).toString('base64url');
    for (const signature of [`${header}..${Buffer.from('nope').toString('base64url')}`, 'garbage', '']) {
      const res = await fetch(`${p.url}/integrations/saleor/webhooks`, {
        method: 'POST', body,
        headers: { 'content-type': 'application/json', 'saleor-event': 'order_fully_paid', 'saleor-api-url': p.config.SALEOR_API_URL, 'saleor-domain': '127.0.0.1', 'saleor-signature': signature },
      });
      expect([400, 401]).toContain(res.status);
    }
    expect(await p.clients.db('webhook_events').where('subject_id', 'T3JkZXI6forged')).toHaveLength(0);
    expect(await p.clients.db('orders').where('saleor_order_id', 'T3JkZXI6forged')).toHaveLength(0);
  });

  it('Saleor down mid-workflow: the order completes by itself once it is back', async () => {
    const checkout = await p.call('POST', '/v1/checkout', { token: buyer, body: { items: [{ type: 'credit_pack', code: 'starter-1k', quantity: 2 }] } });
    await sandbox('/_sandbox/faults', { down: true });
    try {
      const orderId = await payInSandbox(checkout.body.payment_url);
      await until('order received', async () => (await p.clients.db('orders').where('saleor_order_id', orderId).first()) ?? null, 30_000);
      // The workflow met the outage (Saleor refused its calls, retried), and waits: not fulfilled, not parked.
      const before = (await sandbox('/_sandbox/faults')).refused as number;
      await until('the workflow retried against the outage', async () => (await sandbox('/_sandbox/faults')).refused >= before + 2, 30_000);
      const waiting = await orderStatus(orderId);
      expect(waiting.progress).toMatchObject({ status: 'received', currentStep: 'load order' });
      await sandbox('/_sandbox/faults', { down: false });
      await until('fulfilled after Saleor is back', async () => (await orderStatus(orderId)).status === 'fulfilled', 90_000);
    } finally {
      await sandbox('/_sandbox/faults', { down: false });
    }
  });

  it('cancel and refund: compensations run, the credits are voided, the whole order is refunded in Saleor', async () => {
    const walletBefore = (await p.call('GET', '/v1/wallet', { token: buyer })).body.available_mc;
    await withBrokenArtifact(async () => {
      const { orderId, totalCents } = await parkPaidOrder();
      expect((await p.call('POST', `/v1/support/orders/${orderId}/cancel`, { token: support, body: { reason: 'buyer asked to cancel' } })).status).toBe(202);
      const cancelled = await until('cancelled', async () => {
        const o = await orderStatus(orderId);
        return o.status === 'cancelled' ? o : null;
      }, 45_000, () => orderStatus(orderId));
      expect(cancelled.progress.steps.filter((s: { status: string }) => s.status === 'compensated').map((s: { name: string }) => s.name)).toEqual(
        expect.arrayContaining(['deactivate instance', expect.stringMatching(/^void credits/)]),
      );
      expect(cancelled.progress.refund).toMatchObject({ decision: 'full', refundedMinor: totalCents, creditsTakenBackMc: 1_000_000 });
      expect((await p.call('GET', '/v1/wallet', { token: buyer })).body.available_mc).toBe(walletBefore);
      const inSaleor = (await sandbox(`/_sandbox/orders/${encodeURIComponent(orderId)}`)).view;
      expect(inSaleor.totalRefunded.amount * 100).toBe(totalCents);
      expect(inSaleor.grantedRefunds).toEqual([expect.objectContaining({ reason: `cancel:${orderId}`, status: 'SUCCESS', amount: expect.objectContaining({ amount: totalCents / 100 }) })]);
    });
  });
});

/** Every plan line of an order parks at the artifact check while this runs (the version's hash is wrong). */
async function withBrokenArtifact<T>(fn: () => Promise<T>): Promise<T> {
  const version = await p.clients.db('offering_versions').where('id', p.versionIds['ticket-triage']).first();
  await p.clients.db('offering_versions').where('id', version.id).update({ sha256: '0'.repeat(64) });
  try {
    return await fn();
  } finally {
    await p.clients.db('offering_versions').where('id', version.id).update({ sha256: version.sha256 });
  }
}

/** A paid order of 1,000 credits (line 0, granted first) and the Pro plan (line 1, parks at its artifact). */
async function parkPaidOrder(): Promise<{ orderId: string; totalCents: number; packCents: number }> {
  const checkout = await p.call('POST', '/v1/checkout', {
    token: buyer, body: { items: [{ type: 'credit_pack', code: 'starter-1k', quantity: 1 }, { type: 'plan', offering: 'ticket-triage', plan: 'pro' }] },
  });
  expect(checkout.status, JSON.stringify(checkout.body)).toBe(201);
  const orderId = await payInSandbox(checkout.body.payment_url);
  const parked = await until('needs attention', async () => {
    const o = await orderStatus(orderId);
    return o.status === 'needs_attention' ? o : null;
  }, 45_000, () => orderStatus(orderId));
  expect(parked.last_error).toMatchObject({ step: 'verify flow artifact' });
  const packCents = (await p.call('GET', '/v1/credit-packs')).body.items.find((x: { code: string }) => x.code === 'starter-1k').price_cents as number;
  return { orderId, totalCents: checkout.body.total_cents, packCents };
}

describe('cancel after the buyer spent part of a credit pack', () => {
  const cases = [
    { decision: 'refund_unspent', takenBackMc: 700_000, writtenOffMc: 0, walletAfterMc: 0 },
    { decision: 'refund_all', takenBackMc: 700_000, writtenOffMc: 300_000, walletAfterMc: 0 },
    { decision: 'keep', takenBackMc: 0, writtenOffMc: 0, walletAfterMc: 700_000 },
  ] as const;
  for (const c of cases) {
    it(`parks with the figures instead of refunding in full; support decides ${c.decision}: the statement and Saleor show exactly that`, async () => {
      await withBrokenArtifact(async () => {
        const { orderId, totalCents, packCents } = await parkPaidOrder();
        // The buyer spends 300 of the pack's 1,000 credits (and everything else in the wallet): 700 are left.
        const wallet = (await p.call('GET', '/v1/wallet', { token: buyer })).body;
        const spend = await p.call('POST', `/v1/support/wallets/${wallet.wallet_id}/adjustments`, {
          token: support, body: { amount_mc: 700_000 - wallet.available_mc, reason: 'the buyer spends 300 credits of the pack' },
        });
        expect(spend.status, JSON.stringify(spend.body)).toBe(201);
        expect(spend.body.available_mc).toBe(700_000);

        // Nothing to decide yet: the order waits for a retry or a cancel, not for a refund decision.
        const early = await p.call('POST', `/v1/support/orders/${orderId}/refund-decision`, { token: support, body: { reason: 'too early', decision: 'keep' } });
        expect(early.status).toBe(409);
        expect(early.headers.get('content-type')).toContain('application/problem+json');

        expect((await p.call('POST', `/v1/support/orders/${orderId}/cancel`, { token: support, body: { reason: 'buyer asked to cancel' } })).status).toBe(202);
        const parked = await parkForDecision(orderId);
        const proCents = totalCents - packCents;
        expect(parked.last_error).toMatchObject({ step: 'void credits (line 0)', type: 'CompensationFailed' });
        expect(parked.progress.unwind).toMatchObject({
          currency: 'USD', totalMinor: totalCents,
          failed: [{ compensation: 'void credits (line 0)', lines: [0], error: expect.objectContaining({ type: 'insufficient-credits' }) }],
          lines: [
            { line: 0, kind: 'credit_pack', totalMinor: packCents, grantedMc: 1_000_000, unspentMc: 700_000, takenBack: false },
            { line: 1, kind: 'plan', totalMinor: proCents, takenBack: true },
          ],
          refundUnspentMinor: Math.floor((packCents * 7) / 10) + proCents,
          refundAllMinor: totalCents,
        });
        // Support's options are not the buyer's business.
        expect((await orderStatus(orderId)).progress.unwind).toBeUndefined();
        // Nothing was refunded while support has not decided.
        expect((await sandbox(`/_sandbox/orders/${encodeURIComponent(orderId)}`)).view.grantedRefunds).toEqual([]);

        expect((await p.call('POST', `/v1/support/orders/${orderId}/refund-decision`, { token: buyer, body: { reason: 'me', decision: 'refund_all' } })).status).toBe(403);
        expect((await p.call('POST', `/v1/support/orders/${orderId}/refund-decision`, { token: support, body: { reason: 'bad', decision: 'half' } })).status).toBe(400);
        const key = `decide-${orderId}`;
        const decide = () => p.call('POST', `/v1/support/orders/${orderId}/refund-decision`, {
          token: support, headers: { 'idempotency-key': key }, body: { reason: `support chose ${c.decision}`, decision: c.decision },
        });
        const [first, replay] = [await decide(), await decide()];
        expect(first.status, JSON.stringify(first.body)).toBe(202);
        expect(replay.body).toEqual(first.body);
        const expectedRefund = c.decision === 'refund_all' ? totalCents : c.decision === 'refund_unspent' ? parked.progress.unwind.refundUnspentMinor : 0;
        expect(first.body).toMatchObject({ decision: c.decision, estimated_refund_minor: expectedRefund, currency: 'USD' });

        const done = await until('cancelled after the decision', async () => {
          const o = await orderStatus(orderId);
          return o.status === 'cancelled' ? o : null;
        }, 45_000, () => orderStatus(orderId));
        expect(done.progress.refund).toMatchObject({
          decision: c.decision, refundedMinor: expectedRefund, creditsTakenBackMc: c.takenBackMc, creditsWrittenOffMc: c.writtenOffMc,
        });

        // The statement: the unspent credits left the wallet in one transfer named by the order line, or none did.
        expect((await p.call('GET', '/v1/wallet', { token: buyer })).body.available_mc).toBe(c.walletAfterMc);
        const statement = (await p.call('GET', `/v1/wallets/${wallet.wallet_id}/transfers?limit=100`, { token: buyer })).body.items as { transfer_id: string; amount_mc: number }[];
        expect(statement.filter((e) => e.transfer_id === `refund:order:${orderId}:line:0`).map((e) => e.amount_mc)).toEqual(c.takenBackMc ? [-c.takenBackMc] : []);
        const writeOff = await p.clients.ledger.getTransfer(`write-off:order:${orderId}:line:0`);
        expect(writeOff?.amount ?? 0).toBe(c.writtenOffMc);

        // Saleor: one refund of exactly the decided amount, keyed by the decision, or none.
        const inSaleor = (await sandbox(`/_sandbox/orders/${encodeURIComponent(orderId)}`)).view;
        expect(Math.round(inSaleor.totalRefunded.amount * 100)).toBe(expectedRefund);
        expect(inSaleor.grantedRefunds.map((g: { reason: string; status: string }) => [g.reason, g.status])).toEqual(
          expectedRefund ? [[`cancel:${orderId}:${c.decision}`, 'SUCCESS']] : [],
        );
        const audit = (await supportView(orderId)).audit as { action: string }[];
        expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['order.refund_decision', ...(c.writtenOffMc ? ['ledger.write_off'] : [])]));
        expect((await p.clients.ledger.checkInvariants()).violations).toEqual([]);
      });
    });
  }
});

/** Waits until the cancel parks the order for a refund decision (as support sees it). */
async function parkForDecision(orderId: string) {
  return until('parked for a refund decision', async () => {
    const o = await supportView(orderId);
    if (o.status === 'cancelled') throw new Error(`cancelled without a decision: ${JSON.stringify(o.progress.refund)}`);
    return o.status === 'needs_attention' && o.progress?.unwind ? o : null;
  }, 45_000, () => supportView(orderId));
}

describe('two support users decide the same refund at the same moment', () => {
  it('the workflow accepts exactly one decision: one 202, one 409, one audit row, and the order ends as the accepted one says', async () => {
    await withBrokenArtifact(async () => {
      const { orderId } = await parkPaidOrder();
      const wallet = (await p.call('GET', '/v1/wallet', { token: buyer })).body;
      await p.call('POST', `/v1/support/wallets/${wallet.wallet_id}/adjustments`, {
        token: support, body: { amount_mc: 700_000 - wallet.available_mc, reason: 'the buyer spends 300 credits of the pack' },
      });
      // While the order waits for a decision, a cancel is refused: the workflow would ignore it.
      expect((await p.call('POST', `/v1/support/orders/${orderId}/cancel`, { token: support, body: { reason: 'buyer asked to cancel' } })).status).toBe(202);
      await parkForDecision(orderId);
      const again = await p.call('POST', `/v1/support/orders/${orderId}/cancel`, { token: support, body: { reason: 'cancel once more' } });
      expect(again.status).toBe(409);
      expect(again.headers.get('content-type')).toContain('application/problem+json');

      const answers = await Promise.all((['keep', 'refund_unspent'] as const).map((decision) =>
        p.call('POST', `/v1/support/orders/${orderId}/refund-decision`, { token: support, body: { reason: `support chose ${decision}`, decision } }),
      ));
      expect(answers.map((a) => a.status).sort()).toEqual([202, 409]);
      const accepted = answers.find((a) => a.status === 202)!;
      expect(answers.find((a) => a.status === 409)!.headers.get('content-type')).toContain('application/problem+json');

      const done = await until('cancelled after the decision', async () => {
        const o = await orderStatus(orderId);
        return o.status === 'cancelled' ? o : null;
      }, 45_000, () => orderStatus(orderId));
      expect(done.progress.refund).toMatchObject({ decision: accepted.body.decision });
      const audit = (await supportView(orderId)).audit as { action: string; data: { decision: string } }[];
      const decisions = audit.filter((a) => a.action === 'order.refund_decision');
      expect(decisions.map((a) => a.data.decision)).toEqual([accepted.body.decision]);
      expect(audit.filter((a) => a.action === 'order.cancel')).toHaveLength(1);
    });
  });
});

describe('worker killed mid-workflow', () => {
  it('a new worker process finishes the order; nothing is done twice', async () => {
    // A real worker process on queues of its own; the in-process one is not on them.
    const suffix = `-kill${Date.now()}`;
    const first = spawnWorker('provisioning', { config: p.config, queueSuffix: suffix });
    const orderId = `free-kill-${Date.now()}`;
    const ws = (await p.call('POST', '/v1/orgs/auto', { token: buyer })).body;
    const plan = (await p.call('GET', '/v1/offerings/ticket-triage')).body.plans.find((x: { code: string }) => x.code === 'free');
    const instanceId = crypto.randomUUID();
    await p.clients.db('orders').insert({ saleor_order_id: orderId, kind: 'free', org_id: ws.org.id, status: 'received', workflow_id: orderWorkflowId(orderId) });
    const handle = await p.temporal.workflow.start('purchaseToProvision', {
      workflowId: orderWorkflowId(orderId), taskQueue: `provisioning${suffix}`,
      args: [{ kind: 'free', orderId, orgId: ws.org.id, userId: (await p.call('GET', '/v1/me', { token: buyer })).body.id, planId: plan.id, instanceId }],
    });
    // Kill it as soon as provisioning has begun, mid-workflow.
    await until('instance created', async () => (await p.clients.db('instances').where('id', instanceId).first()) ?? null, 60_000);
    first.kill();
    const second = spawnWorker('provisioning', { config: p.config, queueSuffix: suffix });
    try {
      const result = await handle.result();
      expect(result.status).toBe('fulfilled');
    } finally {
      second.kill();
    }
    expect(await p.clients.db('instances').where('order_id', orderId)).toHaveLength(1);
    const allowance = await p.clients.db('transfers').where('reason', 'monthly_allowance').whereRaw("metadata->>'instance_id' = ?", [instanceId]);
    expect(allowance).toHaveLength(1);
    const repo = new LocalGitRepo({ gitDir: p.config.GITOPS_LOCAL_REPO });
    expect(await repo.readFile(instanceManifestPath(ws.org.id, instanceId))).toContain(instanceId);
    // An activity the dead worker held is retried only after its start-to-close timeout (up to 60 s for the
    // GitOps commit), plus two worker start-ups: the file's 60 s default was shorter than the design allows.
  }, 180_000);
});
