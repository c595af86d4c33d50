// The Saleor client against the Saleor sandbox (a local stand-in, not
// Saleor): catalog sync, checkout, payment on the pay page, the signed
// ORDER_FULLY_PAID webhook, fulfilment, refund, delivery retries, faults and
// a restart that keeps state.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSaleorSandbox, testLayout } from '../../deploy/local/stack';
import { httpOk, type Service } from '../../deploy/local/processes';
import { GraphqlSaleorClient, SaleorRequestError, SaleorUnavailableError } from '../../core/saleor/client';
import { createSaleorWebhookVerifier } from '../../core/saleor/webhook-signature';
import { freePort } from '../support/listeners';
import { testConfig } from '../support/stack';
import { until } from '../support/until';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  answered: number;
}

interface OrderFullyPaidPayload {
  order: {
    id: string;
    number: string;
    userEmail: string;
    metadata: { key: string; value: string }[];
    lines: { id: string; productVariantId: string; productSku: string; productName: string; quantity: number }[];
    total: { gross: { amount: number; currency: string } };
  };
}

const waitFor = <T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> =>
  until(what, async () => (await fn()) ?? null, timeoutMs) as Promise<T>;

const RETRY_BASE_MS = 200;

describe('Saleor sandbox with the GraphQL Saleor client', () => {
  const layout = testLayout();
  const config = testConfig();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-saleor-sandbox-'));
  const received: Received[] = [];
  // What the receiver answers next; then it falls back to 200.
  let answers: number[] = [];
  let receiver: http.Server;
  let sandbox: Service | undefined;
  let port: number;
  let origin: string;
  let client: GraphqlSaleorClient;
  let verifier: ReturnType<typeof createSaleorWebhookVerifier>;
  let variantId: string;

  const start = async () => {
    sandbox = await startSaleorSandbox(layout, { port, dataDir, webhookTargetUrl: receiverUrl, retryBaseMs: RETRY_BASE_MS, name: 'saleor-sandbox-it' });
  };
  let receiverUrl = '';

  const sandboxJson = async <T>(p: string, init?: RequestInit): Promise<T> => {
    const res = await fetch(`${origin}${p}`, init);
    expect(res.ok, `${p} answered ${res.status}`).toBe(true);
    return (await res.json()) as T;
  };
  const deliveriesOf = (orderId: string) => sandboxJson<{ state: string; attempts: { status: number | null }[] }[]>(`/_sandbox/orders/${encodeURIComponent(orderId)}`).then((o) => (o as unknown as { deliveries: { state: string; attempts: { status: number | null }[] }[] }).deliveries);

  async function buyAndPay(email: string, orgId: string): Promise<{ checkoutId: string; orderId: string; location: string }> {
    const checkout = await client.createCheckout({ email, lines: [{ variantId, quantity: 2 }], metadata: { orgId } });
    const payment = await client.startPayment(checkout.checkoutId, { idempotencyKey: `pay-${checkout.checkoutId}` });
    const res = await fetch(payment.paymentUrl!, {
      method: 'POST',
      body: new URLSearchParams({ action: 'pay', return_url: 'http://127.0.0.1:3000/checkout/done' }),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    const location = res.headers.get('location')!;
    const orderId = new URL(location).searchParams.get('order_id')!;
    return { checkoutId: checkout.checkoutId, orderId, location };
  }

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = answers.shift() ?? 200;
        received.push({ headers: req.headers, body: Buffer.concat(chunks), answered: status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as net.AddressInfo).port}/integrations/saleor/webhooks`;
    port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    await start();
    client = new GraphqlSaleorClient({
      apiUrl: `${origin}/graphql/`,
      appToken: config.SALEOR_APP_TOKEN,
      channel: config.SALEOR_CHANNEL,
      paymentGatewayId: config.SALEOR_PAYMENT_GATEWAY_ID,
      warehouseId: config.SALEOR_WAREHOUSE_ID,
      timeoutMs: 2000,
    });
    verifier = createSaleorWebhookVerifier({ saleorApiUrl: `${origin}/graphql/` });
  });

  afterAll(async () => {
    await sandbox?.stop();
    await new Promise<void>((r) => receiver.close(() => r()));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('the stack-wide sandbox from the global setup is up', async () => {
    expect(await httpOk(`http://127.0.0.1:${layout.ports.saleor}/healthz`)).toBe(true);
  });

  it('syncs a product idempotently by slug and SKU', async () => {
    const input = {
      productType: config.SALEOR_PRODUCT_TYPE_ID,
      category: config.SALEOR_CATEGORY_ID,
      name: 'Support Agent',
      slug: 'support-agent',
      variants: [{ sku: 'support-agent-plus', name: 'Plus', priceCents: 1999, currency: 'USD' }],
    };
    const first = await client.syncProduct(input);
    const again = await client.syncProduct({ ...input, variants: [...input.variants, { sku: 'support-agent-pro', name: 'Pro', priceCents: 4999, currency: 'USD' }] });
    expect(again.productId).toBe(first.productId);
    expect(again.variants[0]).toEqual(first.variants[0]);
    expect(again.variants).toHaveLength(2);
    variantId = first.variants[0]!.variantId;
  });

  it('concurrent syncs of one new product all succeed with the same product and variants', async () => {
    // As a fresh `npm run dev` does: every offering's sync also syncs the credit packs' product, at once.
    const input = {
      productType: config.SALEOR_PRODUCT_TYPE_ID, category: config.SALEOR_CATEGORY_ID, name: 'Credits', slug: `credits-${Date.now()}`,
      variants: [{ sku: `c1-${Date.now()}`, name: '1,000 credits', priceCents: 990, currency: 'USD' }, { sku: `c5-${Date.now()}`, name: '5,000 credits', priceCents: 3990, currency: 'USD' }],
    };
    const synced = await Promise.all(Array.from({ length: 3 }, () => client.syncProduct(input)));
    expect(new Set(synced.map((s) => s.productId)).size).toBe(1);
    for (const s of synced) expect(s.variants).toEqual(synced[0]!.variants);
  });

  it('checkout → pay page → signed ORDER_FULLY_PAID → order → fulfilment → refund', async () => {
    const checkout = await client.createCheckout({ email: 'buyer@example.com', lines: [{ variantId, quantity: 2 }], metadata: { orgId: 'org-42' } });
    expect(checkout).toMatchObject({ totalCents: 3998, currency: 'USD' });

    const payment = await client.startPayment(checkout.checkoutId);
    expect(payment.eventType).toBe('CHARGE_ACTION_REQUIRED');
    expect(payment.paymentUrl).toBe(`${origin}/checkout/${encodeURIComponent(checkout.checkoutId)}/pay`);
    const unpaid = await failure(client.completeCheckout(checkout.checkoutId));
    expect((unpaid as SaleorRequestError).code).toBe('CHECKOUT_NOT_FULLY_PAID');

    const page = await fetch(`${payment.paymentUrl}?return_url=${encodeURIComponent('http://127.0.0.1:3000/done')}`).then((r) => r.text());
    expect(page).toContain('Saleor sandbox — local stand-in, not Saleor');
    expect(page).toContain('39.98 USD');
    expect(page).toContain('Support Agent — Plus');

    const before = received.length;
    const res = await fetch(payment.paymentUrl!, { method: 'POST', body: new URLSearchParams({ action: 'pay', return_url: 'http://127.0.0.1:3000/done' }), redirect: 'manual' });
    expect(res.status).toBe(303);
    const back = new URL(res.headers.get('location')!);
    expect(back.origin + back.pathname).toBe('http://127.0.0.1:3000/done');
    expect(back.searchParams.get('payment')).toBe('paid');
    const orderId = back.searchParams.get('order_id')!;

    const hook = await waitFor('the webhook', () => received[before]);
    expect(hook.headers['saleor-event']).toBe('order_fully_paid');
    expect(hook.headers['saleor-api-url']).toBe(`${origin}/graphql/`);
    expect(hook.headers['saleor-domain']).toBe(`127.0.0.1:${port}`);
    const verified = await verifier.verify<OrderFullyPaidPayload>(hook.body, hook.headers);
    expect(verified.payload.order).toMatchObject({
      id: orderId,
      userEmail: 'buyer@example.com',
      metadata: [{ key: 'orgId', value: 'org-42' }],
      lines: [{ productVariantId: variantId, productSku: 'support-agent-plus', productName: 'Support Agent', quantity: 2 }],
      total: { gross: { amount: 39.98, currency: 'USD' } },
    });
    // The same body with one byte changed does not verify.
    const tampered = Buffer.from(hook.body);
    tampered[10] = tampered[10]! ^ 0x01;
    await expect(verifier.verify(tampered, hook.headers)).rejects.toMatchObject({ reason: 'bad-signature' });

    const order = await client.getOrder(orderId);
    expect(order).toMatchObject({
      id: orderId,
      number: verified.payload.order.number,
      status: 'UNFULFILLED',
      isPaid: true,
      chargeStatus: 'FULL',
      userEmail: 'buyer@example.com',
      totalCents: 3998,
      currency: 'USD',
      metadata: { orgId: 'org-42' },
    });
    expect(order.lines).toEqual([expect.objectContaining({ id: verified.payload.order.lines[0]!.id, variantId, sku: 'support-agent-plus', quantity: 2 })]);
    // checkoutComplete on the completed checkout answers the same order.
    await expect(client.completeCheckout(checkout.checkoutId)).resolves.toMatchObject({ orderId });

    const paid = await client.listPaidOrdersSince(new Date(Date.now() - 60_000), { pageSize: 1 });
    expect(paid.map((o) => o.id)).toContain(orderId);

    await expect(client.markFulfilled(orderId)).resolves.toEqual({ status: 'FULFILLED', fulfilledQuantity: 2 });
    await expect(client.markFulfilled(orderId)).resolves.toEqual({ status: 'FULFILLED', fulfilledQuantity: 0 });
    await client.writeOrderMetadata(orderId, { cmp_status: 'provisioned' });

    const refund = await client.requestRefund(orderId, 3998, 'cancelled by support: ticket 12');
    expect(refund).toMatchObject({ status: 'SUCCESS', requestedNow: true });
    // A retried refund with the same reason does not refund twice.
    await expect(client.requestRefund(orderId, 3998, 'cancelled by support: ticket 12')).resolves.toMatchObject({ grantedRefundId: refund.grantedRefundId, requestedNow: false });

    const inspected = await sandboxJson<{ record: { status: string; metadata: Record<string, string>; fulfillments: unknown[]; grantedRefunds: { amountCents: number; status: string; reason: string }[] } }>(
      `/_sandbox/orders/${encodeURIComponent(orderId)}`,
    );
    expect(inspected.record.status).toBe('FULFILLED');
    expect(inspected.record.fulfillments).toHaveLength(1);
    expect(inspected.record.metadata).toEqual({ orgId: 'org-42', cmp_status: 'provisioned' });
    expect(inspected.record.grantedRefunds).toEqual([expect.objectContaining({ amountCents: 3998, status: 'SUCCESS', reason: 'cancelled by support: ticket 12' })]);
    await expect(client.getOrder(orderId)).resolves.toMatchObject({ refundedCents: 3998 });
  });

  it('a declined payment makes no order and no webhook', async () => {
    const checkout = await client.createCheckout({ email: 'decline@example.com', lines: [{ variantId, quantity: 1 }] });
    const payment = await client.startPayment(checkout.checkoutId);
    const before = received.length;
    const res = await fetch(payment.paymentUrl!, { method: 'POST', body: new URLSearchParams({ action: 'decline', return_url: 'http://127.0.0.1:3000/done' }), redirect: 'manual' });
    expect(new URL(res.headers.get('location')!).searchParams.get('payment')).toBe('declined');
    // A payment after it goes through the same delivery queue: once its webhook is here, the declined one's would be too.
    const { orderId } = await buyAndPay('after-decline@example.com', 'org-after-decline');
    await waitFor('the next order\'s webhook', () => received.slice(before).find((r) => (JSON.parse(r.body.toString()) as OrderFullyPaidPayload).order.id === orderId));
    expect(received.slice(before).map((r) => (JSON.parse(r.body.toString()) as OrderFullyPaidPayload).order.id)).toEqual([orderId]);
    expect(((await failure(client.completeCheckout(checkout.checkoutId))) as SaleorRequestError).code).toBe('CHECKOUT_NOT_FULLY_PAID');
  });

  it('retries a receiver answering 500 with backoff, then delivers; a redelivery is a duplicate of the same order', async () => {
    answers = [500, 500];
    const { orderId } = await buyAndPay('retry@example.com', 'org-retry');
    const deliveries = await waitFor('delivery after retries', async () => {
      const d = await deliveriesOf(orderId);
      return d[0]?.state === 'delivered' ? d : undefined;
    });
    expect(deliveries[0]!.attempts.map((a) => a.status)).toEqual([500, 500, 200]);

    await sandboxJson(`/_sandbox/orders/${encodeURIComponent(orderId)}/redeliver`, { method: 'POST' });
    const forOrder = await waitFor('the duplicate', () => {
      const hooks = received.filter((r) => r.answered === 200 && (JSON.parse(r.body.toString()) as OrderFullyPaidPayload).order.id === orderId);
      return hooks.length === 2 ? hooks : undefined;
    });
    for (const h of forOrder) await verifier.verify(h.body, h.headers);
  });

  it('does not retry a 4xx answer', async () => {
    answers = [400];
    const { orderId } = await buyAndPay('reject@example.com', 'org-4xx');
    await waitFor('the failed delivery', async () => ((await deliveriesOf(orderId))[0]?.state === 'failed' ? true : undefined));
    await new Promise((r) => setTimeout(r, RETRY_BASE_MS * 3));
    expect((await deliveriesOf(orderId))[0]!.attempts.map((a) => a.status)).toEqual([400]);
  });

  it('injected outages answer 503, which the client reports as retryable', async () => {
    await sandboxJson('/_sandbox/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ failNext: 1 }) });
    expect(await failure(client.listPaidOrdersSince(new Date(0)))).toBeInstanceOf(SaleorUnavailableError);
    await expect(client.listPaidOrdersSince(new Date(0))).resolves.toBeInstanceOf(Array);

    await sandboxJson('/_sandbox/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ down: true }) });
    expect(await failure(client.getOrder('T3JkZXI6eA=='))).toBeInstanceOf(SaleorUnavailableError);
    await sandboxJson('/_sandbox/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ delayMs: 3000 }) });
    expect((await failure(client.getOrder('T3JkZXI6eA=='))) as Error).toBeInstanceOf(SaleorUnavailableError);
    await sandboxJson('/_sandbox/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({}) });
  });

  it('answers a GraphQL error for operations it does not implement, and for a wrong token', async () => {
    const err = await failure(client.request('shop', 'query { shop { name } }'));
    expect(err).toBeInstanceOf(SaleorRequestError);
    expect((err as Error).message).toMatch(/not implemented/);
    const invalid = await failure(client.request('order', 'query { order(id: "x") { id buyerOrgId } }'));
    expect((invalid as SaleorRequestError).code).toBe('GraphQLError');
    const stranger = new GraphqlSaleorClient({ apiUrl: `${origin}/graphql/`, appToken: 'wrong', channel: 'default-channel', paymentGatewayId: 'x', warehouseId: 'x' });
    expect(await failure(stranger.getOrder('T3JkZXI6eA=='))).toBeInstanceOf(SaleorRequestError);
  });

  it('keeps orders, keys and pending deliveries across a restart', async () => {
    answers = [500];
    const { orderId } = await buyAndPay('restart@example.com', 'org-restart');
    await waitFor('the first failed attempt', async () => ((await deliveriesOf(orderId))[0]?.attempts.length ? true : undefined));
    const jwksBefore = await sandboxJson<{ keys: { kid: string }[] }>('/.well-known/jwks.json');
    await sandbox!.stop();

    await start();
    const jwksAfter = await sandboxJson<{ keys: { kid: string }[] }>('/.well-known/jwks.json');
    expect(jwksAfter.keys[0]!.kid).toBe(jwksBefore.keys[0]!.kid);
    await expect(client.getOrder(orderId)).resolves.toMatchObject({ userEmail: 'restart@example.com', metadata: { orgId: 'org-restart' } });
    const d = await waitFor('the resumed delivery', async () => {
      const all = await deliveriesOf(orderId);
      return all[0]?.state === 'delivered' ? all[0] : undefined;
    });
    expect(d.attempts.map((a) => a.status)).toEqual([500, 200]);
    const hook = received.filter((r) => r.answered === 200).at(-1)!;
    await expect(verifier.verify<OrderFullyPaidPayload>(hook.body, hook.headers)).resolves.toMatchObject({ payload: { order: { id: orderId } } });
  });
});

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
}
