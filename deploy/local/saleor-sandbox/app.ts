// Saleor sandbox — local stand-in, not Saleor. A test double that speaks the
// part of Saleor's protocol CMP uses: GraphQL at /graphql/ (the documents in
// core/saleor/documents.ts, executed against its own SDL, a subset of Saleor's
// real schema: schema.graphql), signed
// ORDER_FULLY_PAID webhooks, JWKS, and a pay page standing in for the payment
// app. Plus sandbox-only control endpoints under /_sandbox/ for tests.
import express, { type Request, type Response } from 'express';
import type { Server } from 'node:http';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from '../../../core/logger';
import { ORDER_FULLY_PAID_SUBSCRIPTION } from '../../../core/saleor/documents';
import { SALEOR_EVENTS } from '../../../core/saleor/contract';
import { MutationError, SandboxCommerce, SandboxGraphQLError, checkoutTotalCents } from './commerce';
import { createRootValue, orderView, runGraphql, webhookPayload } from './graphql';
import { StateFile } from './state';
import { DeliveryQueue, loadOrCreateSigningKey, signWebhookBody, type SigningKey } from './webhooks';
import { renderMessagePage, renderPayPage } from './pay-page';

export const SANDBOX_BANNER = 'Saleor sandbox — local stand-in, not Saleor';

export interface SaleorSandboxOptions {
  dataDir: string;
  /** Origin the sandbox is reached at, e.g. http://127.0.0.1:4020 (Saleor-Api-Url is <publicUrl>/graphql/). */
  publicUrl: string;
  webhookTargetUrl: string;
  appToken: string;
  paymentGatewayId: string;
  retryBaseMs: number;
  schema: GraphQLSchema;
  log: Logger;
}

export interface Faults {
  /** The next n GraphQL requests answer 503. */
  failNext: number;
  /** Every GraphQL request answers 503 until cleared. */
  down: boolean;
  /** Delay before answering each GraphQL request (client timeout tests). */
  delayMs: number;
}

export interface SaleorSandbox {
  app: express.Express;
  commerce: SandboxCommerce;
  deliveries: DeliveryQueue;
  key: SigningKey;
  listen(port: number, host?: string): Promise<Server>;
  close(): Promise<void>;
}

export async function createSaleorSandbox(opts: SaleorSandboxOptions): Promise<SaleorSandbox> {
  const store = new StateFile(opts.dataDir);
  const key = await loadOrCreateSigningKey(opts.dataDir);
  const apiUrl = `${opts.publicUrl}/graphql/`;
  const domain = new URL(opts.publicUrl).host;
  const faults: Faults = { failNext: 0, down: false, delayMs: 0 };
  /** GraphQL requests answered with an injected 503: tests wait on it to know a caller met the outage. */
  let refused = 0;

  const deliveries = new DeliveryQueue({
    store,
    log: opts.log,
    retryBaseMs: opts.retryBaseMs,
    headersFor: (d) => ({
      'content-type': 'application/json',
      'user-agent': 'Saleor/3.23 (sandbox)',
      'saleor-event': d.event,
      'saleor-domain': domain,
      'saleor-api-url': apiUrl,
      'saleor-signature': d.signature,
    }),
  });

  const pendingPayloads: Promise<void>[] = [];
  async function emitOrderFullyPaid(orderId: string): Promise<void> {
    const payload = await webhookPayload(opts.schema, ORDER_FULLY_PAID_SUBSCRIPTION, store.state, orderId, 'OrderFullyPaid');
    const body = JSON.stringify(payload);
    const signature = await signWebhookBody(Buffer.from(body), key);
    deliveries.enqueue({ event: SALEOR_EVENTS.orderFullyPaid, orderId, targetUrl: opts.webhookTargetUrl, body, signature });
  }

  const commerce = new SandboxCommerce(store, {
    publicUrl: opts.publicUrl,
    paymentGatewayId: opts.paymentGatewayId,
    onOrderFullyPaid: (orderId) => {
      const p = emitOrderFullyPaid(orderId).catch((err: Error) => opts.log.error({ err, orderId }, 'could not queue ORDER_FULLY_PAID'));
      pendingPayloads.push(p);
    },
  });
  const rootValue = createRootValue(commerce);

  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.setHeader('x-saleor-sandbox', 'local stand-in, not Saleor');
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, service: SANDBOX_BANNER, apiUrl });
  });

  app.get('/.well-known/jwks.json', (_req, res) => {
    res.json({ keys: [key.publicJwk] });
  });

  const graphql = async (req: Request, res: Response) => {
    if (faults.delayMs > 0) await new Promise((r) => setTimeout(r, faults.delayMs));
    if (faults.down || faults.failNext > 0) {
      if (faults.failNext > 0) faults.failNext -= 1;
      refused++;
      res.status(503).type('text/plain').send('Saleor sandbox: injected outage (503)');
      return;
    }
    const auth = req.headers.authorization;
    if (auth && auth !== `Bearer ${opts.appToken}`) {
      // Saleor rejects an unknown app token outright.
      res.status(401).json({ errors: [{ message: 'Invalid token', extensions: { exception: { code: 'InvalidTokenError' } } }] });
      return;
    }
    const answer = await runGraphql(opts.schema, rootValue, (req.body ?? {}) as Record<string, unknown>, Boolean(auth));
    res.status(answer.status).json(answer.body);
  };
  app.post(['/graphql/', '/graphql'], express.json({ limit: '1mb' }), graphql);

  // --- the pay page: the payment app's hosted page ------------------------

  const returnUrlOf = (value: unknown): URL | null => {
    if (typeof value !== 'string' || !value) return null;
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:' ? url : null;
    } catch {
      return null;
    }
  };

  app.get('/checkout/:checkoutId/pay', (req, res) => {
    const checkout = commerce.state.checkouts[req.params.checkoutId];
    if (!checkout) {
      res.status(404).type('html').send(renderMessagePage('Checkout not found', `No checkout ${req.params.checkoutId}.`));
      return;
    }
    const order = checkout.orderId ? commerce.state.orders[checkout.orderId] : undefined;
    res.type('html').send(
      renderPayPage({
        checkoutId: checkout.id,
        email: checkout.email,
        currency: checkout.currency,
        totalCents: checkoutTotalCents(checkout),
        lines: checkout.lines.map((l) => {
          const variant = commerce.state.variants[l.variantId]!;
          const product = commerce.state.products[variant.productId]!;
          return { name: `${product.name} — ${variant.name}`, quantity: l.quantity, unitPriceCents: l.unitPriceCents };
        }),
        returnUrl: returnUrlOf(req.query.return_url)?.toString() ?? null,
        paidOrderNumber: order ? order.number : null,
      }),
    );
  });

  app.post('/checkout/:checkoutId/pay', express.urlencoded({ extended: false }), (req, res) => {
    const checkoutId = req.params.checkoutId;
    const body = (req.body ?? {}) as Record<string, string | undefined>;
    const returnUrl = returnUrlOf(body.return_url ?? req.query.return_url);
    const decline = body.action === 'decline';
    let orderId: string | null = null;
    try {
      if (decline) commerce.declineCheckout(checkoutId);
      else orderId = commerce.payCheckout(checkoutId).id;
    } catch (err) {
      if (err instanceof MutationError || err instanceof SandboxGraphQLError) {
        res.status(err instanceof MutationError && err.code === 'NOT_FOUND' ? 404 : 400).type('html').send(renderMessagePage('Payment failed', err.message));
        return;
      }
      throw err;
    }
    opts.log.info({ checkoutId, orderId, outcome: decline ? 'declined' : 'paid' }, 'pay page');
    if (returnUrl) {
      returnUrl.searchParams.set('checkout_id', checkoutId);
      returnUrl.searchParams.set('payment', decline ? 'declined' : 'paid');
      if (orderId) returnUrl.searchParams.set('order_id', orderId);
      res.redirect(303, returnUrl.toString());
      return;
    }
    const order = orderId ? commerce.state.orders[orderId] : undefined;
    res
      .status(decline ? 200 : 201)
      .type('html')
      .send(decline ? renderMessagePage('Payment declined', 'The checkout is still open.') : renderMessagePage('Paid', `Order #${order?.number} (${orderId}) is paid.`));
  });

  // --- sandbox-only control endpoints (tests) ------------------------------

  app.get('/_sandbox/faults', (_req, res) => {
    res.json({ ...faults, refused });
  });
  app.post('/_sandbox/faults', express.json(), (req, res) => {
    const b = (req.body ?? {}) as Partial<Faults>;
    faults.failNext = Number.isInteger(b.failNext) && b.failNext! >= 0 ? b.failNext! : 0;
    faults.down = b.down === true;
    faults.delayMs = Number.isInteger(b.delayMs) && b.delayMs! >= 0 ? b.delayMs! : 0;
    res.json(faults);
  });

  app.get('/_sandbox/orders/:orderId', (req, res) => {
    const order = commerce.state.orders[req.params.orderId];
    if (!order) {
      res.status(404).json({ error: `no order ${req.params.orderId}` });
      return;
    }
    res.json({
      record: order,
      view: orderView(commerce.state, order),
      transactions: order.transactionIds.map((id) => commerce.state.transactions[id]),
      deliveries: commerce.state.deliveries.filter((d) => d.orderId === order.id),
    });
  });

  app.post('/_sandbox/orders/:orderId/redeliver', async (req, res) => {
    const order = commerce.state.orders[req.params.orderId];
    if (!order) {
      res.status(404).json({ error: `no order ${req.params.orderId}` });
      return;
    }
    await emitOrderFullyPaid(order.id);
    res.status(202).json({ queued: true, deliveries: commerce.state.deliveries.filter((d) => d.orderId === order.id).length });
  });

  app.get('/_sandbox/deliveries', (_req, res) => {
    res.json(commerce.state.deliveries);
  });

  let server: Server | undefined;
  return {
    app,
    commerce,
    deliveries,
    key,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        const s = app.listen(port, host, (err?: Error) => {
          if (err) reject(err);
          else {
            server = s;
            deliveries.start();
            opts.log.info({ port, apiUrl, webhookTargetUrl: opts.webhookTargetUrl }, SANDBOX_BANNER);
            resolve(s);
          }
        });
      });
    },
    async close() {
      await Promise.all(pendingPayloads);
      await deliveries.stop();
      await new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        // Idle keep-alive sockets (clients' connection pools) would hold close() open.
        server.closeIdleConnections();
      });
    },
  };
}
