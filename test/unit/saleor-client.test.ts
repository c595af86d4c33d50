// The Saleor client's error classes: what a Temporal activity may retry
// (SaleorUnavailableError) and what it must not (SaleorRequestError).
import { describe, expect, it } from 'vitest';
import { GraphqlSaleorClient, SaleorRequestError, SaleorUnavailableError } from '../../core/saleor/client';
import { ORDER_BY_ID } from '../../core/saleor/documents';

function clientAnswering(answer: () => Promise<Response> | Response, seen: Request[] = [], timeoutMs = 1000) {
  return new GraphqlSaleorClient({
    apiUrl: 'https://shop.example.com/graphql/',
    appToken: 'app-token',
    channel: 'default-channel',
    paymentGatewayId: 'app.payments',
    warehouseId: 'V2FyZWhvdXNlOjE=',
    timeoutMs,
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      const request = new Request(input, init);
      seen.push(request);
      if (init?.signal) {
        return Promise.race([
          Promise.resolve(answer()),
          new Promise<never>((_, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason as Error))),
        ]);
      }
      return answer();
    }) as typeof fetch,
  });
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
}

describe('GraphqlSaleorClient', () => {
  it('sends the document with the app token as Bearer', async () => {
    const seen: Request[] = [];
    const order = {
      id: 'T3JkZXI6MQ==', number: '7', status: 'UNFULFILLED', isPaid: true, chargeStatus: 'FULL', userEmail: 'a@b.c',
      created: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', total: { gross: { amount: 19.99, currency: 'USD' } },
      totalRefunded: { amount: 0, currency: 'USD' }, metadata: [{ key: 'orgId', value: 'org-1' }],
      lines: [{ id: 'L1', productVariantId: 'V1', productSku: 'sku-1', productName: 'Agent', variantName: 'Pro', quantity: 1, quantityFulfilled: 0, totalPrice: { gross: { amount: 19.99, currency: 'USD' } } }],
      transactions: [{ id: 'T1' }],
    };
    const client = clientAnswering(() => json({ data: { order } }), seen);
    await expect(client.getOrder('T3JkZXI6MQ==')).resolves.toMatchObject({ number: '7', totalCents: 1999, metadata: { orgId: 'org-1' }, lines: [{ variantId: 'V1', sku: 'sku-1', totalCents: 1999 }] });
    expect(seen[0]!.headers.get('authorization')).toBe('Bearer app-token');
    expect(((await seen[0]!.json()) as { query: string }).query).toBe(ORDER_BY_ID);
  });

  it.each([502, 503, 504, 429])('HTTP %i is retryable', async (status) => {
    const err = await failure(clientAnswering(() => new Response('busy', { status })).getOrder('x'));
    expect(err).toBeInstanceOf(SaleorUnavailableError);
    expect((err as SaleorUnavailableError).retryable).toBe(true);
  });

  it('a network failure is retryable', async () => {
    const err = await failure(clientAnswering(() => Promise.reject(new TypeError('fetch failed'))).getOrder('x'));
    expect(err).toBeInstanceOf(SaleorUnavailableError);
  });

  it('a timeout is retryable', async () => {
    const err = await failure(clientAnswering(() => new Promise<Response>(() => undefined), [], 50).getOrder('x'));
    expect(err).toBeInstanceOf(SaleorUnavailableError);
    expect((err as Error).message).toMatch(/no answer within 50 ms/);
  });

  it('GraphQL errors are not retryable and carry Saleor\'s code', async () => {
    const err = await failure(
      clientAnswering(() => json({ data: null, errors: [{ message: 'You need MANAGE_ORDERS', extensions: { exception: { code: 'PermissionDenied' } } }] })).getOrder('x'),
    );
    expect(err).toBeInstanceOf(SaleorRequestError);
    expect((err as SaleorRequestError).code).toBe('PermissionDenied');
    expect((err as SaleorRequestError).retryable).toBe(false);
  });

  it('a mutation error code is not retryable', async () => {
    const err = await failure(
      clientAnswering(() => json({ data: { checkoutComplete: { order: null, errors: [{ field: 'id', message: 'not paid', code: 'CHECKOUT_NOT_FULLY_PAID' }] } } })).completeCheckout('c'),
    );
    expect(err).toBeInstanceOf(SaleorRequestError);
    expect((err as SaleorRequestError).code).toBe('CHECKOUT_NOT_FULLY_PAID');
    expect((err as SaleorRequestError).field).toBe('id');
  });

  it('a missing order is NOT_FOUND', async () => {
    const err = await failure(clientAnswering(() => json({ data: { order: null } })).getOrder('x'));
    expect((err as SaleorRequestError).code).toBe('NOT_FOUND');
  });
});
