// The Saleor port: what CMP asks of Saleor, as an interface, and its GraphQL
// implementation (an app token as Bearer, a timeout on every call). Errors
// come in two classes so callers (Temporal activities) can retry the right
// ones: SaleorUnavailableError (network, timeout, 429, 5xx: retry) and
// SaleorRequestError (Saleor understood and refused: do not retry).
import { AppError } from '../errors';
import type { Config } from '../config';
import * as docs from './documents';

export interface SaleorOrderLine {
  id: string;
  variantId: string | null;
  sku: string | null;
  productName: string;
  variantName: string;
  quantity: number;
  quantityFulfilled: number;
  /** The line's gross total in the currency's minor units. */
  totalCents: number;
}

export interface SaleorOrder {
  id: string;
  number: string;
  status: string;
  isPaid: boolean;
  chargeStatus: string;
  userEmail: string | null;
  totalCents: number;
  refundedCents: number;
  currency: string;
  createdAt: string;
  updatedAt: string;
  metadata: Record<string, string>;
  lines: SaleorOrderLine[];
  transactionIds: string[];
}

export interface CreateCheckoutInput {
  email: string;
  /** Channel slug; the client's configured channel when omitted. */
  channel?: string;
  lines: { variantId: string; quantity: number }[];
  /** Copied by Saleor onto the order at checkoutComplete (orgId, planId…). */
  metadata?: Record<string, string>;
}

export interface CreatedCheckout {
  checkoutId: string;
  totalCents: number;
  currency: string;
}

export interface StartedPayment {
  transactionId: string;
  /** The payment app's page for the buyer (transactionEvent.externalUrl), when it has one. */
  paymentUrl: string | null;
  /** e.g. CHARGE_ACTION_REQUIRED (buyer must act) or CHARGE_SUCCESS. */
  eventType: string | null;
  /** The payment app's own answer (transactionInitialize.data). */
  data: unknown;
}

export interface FulfilLine {
  orderLineId: string;
  quantity: number;
}

export interface RefundResult {
  grantedRefundId: string;
  /** The granted refund's status after the request: PENDING, SUCCESS or FAILURE. */
  status: string;
  /** False when an earlier attempt with the same reason had already requested it. */
  requestedNow: boolean;
}

export interface SyncProductInput {
  productType: string;
  category: string;
  name: string;
  slug: string;
  /** Each price in its currency's minor units; the channel must sell in that currency. */
  variants: { sku: string; name: string; priceCents: number; currency: string }[];
}

export interface SyncedProduct {
  productId: string;
  variants: { sku: string; variantId: string }[];
}

/** A part payment names its currency (the checkout's): minor units mean nothing without it. */
export type StartPaymentOptions = { idempotencyKey?: string } & ({ amountCents?: undefined } | { amountCents: number; currency: string });

export interface SaleorClient {
  createCheckout(input: CreateCheckoutInput): Promise<CreatedCheckout>;
  /** transactionInitialize with the payment app; the buyer then pays on `paymentUrl`. */
  startPayment(checkoutId: string, opts?: StartPaymentOptions): Promise<StartedPayment>;
  /** checkoutComplete; Saleor answers the existing order for a checkout already completed. */
  completeCheckout(checkoutId: string): Promise<{ orderId: string; orderNumber: string }>;
  /** Throws SaleorRequestError code NOT_FOUND when Saleor has no such order. */
  getOrder(orderId: string): Promise<SaleorOrder>;
  /** Orders charged in full whose last change is at or after `since`, oldest change first. */
  listPaidOrdersSince(since: Date, opts?: { pageSize?: number; maxPages?: number }): Promise<SaleorOrder[]>;
  /** orderFulfill for what is not fulfilled yet (all lines when `lines` is omitted); safe to repeat. */
  markFulfilled(orderId: string, lines?: FulfilLine[]): Promise<{ status: string; fulfilledQuantity: number }>;
  writeOrderMetadata(orderId: string, metadata: Record<string, string>): Promise<void>;
  /**
   * Grants a refund on the order's charged transaction and asks the payment
   * app to pay it out. `reason` is the idempotency key: a repeat with the same
   * reason reuses the granted refund (whatever amount it asks) instead of granting another.
   */
  requestRefund(orderId: string, amountCents: number, reason: string): Promise<RefundResult>;
  /** Creates or updates a product and its variants, keyed by slug and SKU. */
  syncProduct(input: SyncProductInput): Promise<SyncedProduct>;
}

/** Saleor could not be reached or failed (network, timeout, 429, 5xx): retry. */
export class SaleorUnavailableError extends AppError {
  readonly retryable = true;
  constructor(
    readonly operation: string,
    detail: string,
    readonly httpStatus?: number,
  ) {
    super('upstream-unavailable', 'Saleor unavailable', `Saleor ${operation}: ${detail}`, { operation, httpStatus });
    this.name = 'SaleorUnavailableError';
  }
}

/** Saleor refused the request (GraphQL error or a mutation error code): do not retry. */
export class SaleorRequestError extends AppError {
  readonly retryable = false;
  constructor(
    readonly operation: string,
    readonly code: string,
    detail: string,
    readonly field?: string | null,
  ) {
    super('upstream-unavailable', 'Saleor refused the request', `Saleor ${operation}: ${code}: ${detail}`, { operation, code, field });
    this.name = 'SaleorRequestError';
  }
}

/** Class names a Temporal retry policy lists as non-retryable. */
export const SALEOR_NON_RETRYABLE_ERRORS = ['SaleorRequestError'] as const;

export interface GraphqlSaleorClientOptions {
  apiUrl: string;
  appToken: string;
  channel: string;
  /** The payment app's id, as transactionInitialize's paymentGateway.id. */
  paymentGatewayId: string;
  /** Where digital stock lives: variant stocks and orderFulfill need a warehouse. */
  warehouseId: string;
  /** Per request; Saleor answers in well under a second, a stuck call should fail and retry. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

interface MutationError {
  field?: string | null;
  message?: string | null;
  code: string;
}

interface GqlMoney {
  amount: number;
  currency: string;
}

interface GqlOrder {
  id: string;
  number: string;
  status: string;
  isPaid: boolean;
  chargeStatus: string;
  userEmail: string | null;
  created: string;
  updatedAt: string;
  total: { gross: GqlMoney };
  totalRefunded: GqlMoney;
  metadata: { key: string; value: string }[];
  lines: {
    id: string;
    productVariantId: string | null;
    productSku: string | null;
    productName: string;
    variantName: string;
    quantity: number;
    quantityFulfilled: number;
    totalPrice: { gross: GqlMoney };
  }[];
  transactions: { id: string }[];
}

/**
 * Digits after the decimal point of a currency, as Saleor quantizes its amounts (CLDR's digits through babel:
 * 2 for USD and EUR, 0 for JPY, 3 for KWD). Intl reads the same CLDR data.
 */
export function currencyDigits(currency: string): number {
  let digits = digitsByCurrency.get(currency);
  if (digits === undefined) {
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    digitsByCurrency.set(currency, digits);
  }
  return digits;
}
/** Building a NumberFormat costs far more than the conversion: once per currency. */
const digitsByCurrency = new Map<string, number>();

// Saleor amounts are decimals in the currency's unit; CMP counts integer minor units ("cents": yen for JPY).
// No default currency: a wrong one scales the amount by a power of ten.
export const toCents = (amount: number, currency: string) => Math.round(amount * 10 ** currencyDigits(currency));
// The nearest double to the decimal, which JSON writes as that decimal's shortest form (1990 -> 19.9).
export const fromCents = (cents: number, currency: string) => cents / 10 ** currencyDigits(currency);

const toMetadataInput = (m: Record<string, string>) => Object.entries(m).map(([key, value]) => ({ key, value }));

export function mapOrder(o: GqlOrder): SaleorOrder {
  return {
    id: o.id,
    number: o.number,
    status: o.status,
    isPaid: o.isPaid,
    chargeStatus: o.chargeStatus,
    userEmail: o.userEmail,
    totalCents: toCents(o.total.gross.amount, o.total.gross.currency),
    refundedCents: toCents(o.totalRefunded.amount, o.total.gross.currency),
    currency: o.total.gross.currency,
    createdAt: o.created,
    updatedAt: o.updatedAt,
    metadata: Object.fromEntries(o.metadata.map((m) => [m.key, m.value])),
    lines: o.lines.map((l) => ({
      id: l.id,
      variantId: l.productVariantId,
      sku: l.productSku,
      productName: l.productName,
      variantName: l.variantName,
      quantity: l.quantity,
      quantityFulfilled: l.quantityFulfilled,
      totalCents: toCents(l.totalPrice.gross.amount, l.totalPrice.gross.currency),
    })),
    transactionIds: o.transactions.map((t) => t.id),
  };
}

export class GraphqlSaleorClient implements SaleorClient {
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private channelId: Promise<string> | undefined;

  constructor(private readonly opts: GraphqlSaleorClientOptions) {
    this.fetch = opts.fetch ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Sends one document; returns `data` or throws one of the two error classes. */
  async request<T>(operation: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let res: Response;
    try {
      res = await this.fetch(this.opts.apiUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${this.opts.appToken}` },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      const what = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : `${e.message}${e.cause ? ` (${String((e.cause as Error).message ?? e.cause)})` : ''}`;
      throw new SaleorUnavailableError(operation, what);
    }
    if (res.status >= 500 || res.status === 429) {
      throw new SaleorUnavailableError(operation, `HTTP ${res.status}`, res.status);
    }
    let body: { data?: T | null; errors?: { message: string; extensions?: { exception?: { code?: string }; code?: string } }[] };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      // A proxy's HTML error page on a 2xx/4xx: treat 4xx as refused, anything else as a hiccup.
      if (res.status >= 400) throw new SaleorRequestError(operation, `HTTP_${res.status}`, 'answer was not JSON');
      throw new SaleorUnavailableError(operation, `HTTP ${res.status} with a body that is not JSON`, res.status);
    }
    if (body.errors?.length) {
      const first = body.errors[0]!;
      const code = first.extensions?.exception?.code ?? first.extensions?.code ?? 'GRAPHQL_ERROR';
      throw new SaleorRequestError(operation, code, body.errors.map((e) => e.message).join('; '));
    }
    if (res.status >= 400 || !body.data) {
      throw new SaleorRequestError(operation, `HTTP_${res.status}`, 'answer had no data');
    }
    return body.data;
  }

  /** Throws the first mutation error (Saleor's `errors[]` with a code) as non-retryable. */
  private check(operation: string, errors: MutationError[] | null | undefined): void {
    const first = errors?.[0];
    if (first) throw new SaleorRequestError(operation, first.code, first.message ?? first.code, first.field);
  }

  private async resolveChannelId(): Promise<string> {
    this.channelId ??= this.request<{ channel: { id: string } | null }>('channel', docs.CHANNEL_BY_SLUG, { slug: this.opts.channel }).then((d) => {
      if (!d.channel) throw new SaleorRequestError('channel', 'NOT_FOUND', `channel ${this.opts.channel} does not exist`);
      return d.channel.id;
    });
    try {
      return await this.channelId;
    } catch (err) {
      this.channelId = undefined;
      throw err;
    }
  }

  async createCheckout(input: CreateCheckoutInput): Promise<CreatedCheckout> {
    const d = await this.request<{ checkoutCreate: { checkout: { id: string; totalPrice: { gross: GqlMoney } } | null; errors: MutationError[] } }>(
      'checkoutCreate',
      docs.CHECKOUT_CREATE,
      {
        input: {
          channel: input.channel ?? this.opts.channel,
          email: input.email,
          lines: input.lines.map((l) => ({ variantId: l.variantId, quantity: l.quantity })),
          metadata: toMetadataInput(input.metadata ?? {}),
        },
      },
    );
    this.check('checkoutCreate', d.checkoutCreate.errors);
    const checkout = d.checkoutCreate.checkout!;
    const currency = checkout.totalPrice.gross.currency;
    return { checkoutId: checkout.id, totalCents: toCents(checkout.totalPrice.gross.amount, currency), currency };
  }

  async startPayment(checkoutId: string, opts: StartPaymentOptions = {}): Promise<StartedPayment> {
    const d = await this.request<{
      transactionInitialize: {
        transaction: { id: string } | null;
        transactionEvent: { type: string | null; externalUrl: string } | null;
        data: unknown;
        errors: MutationError[];
      };
    }>('transactionInitialize', docs.TRANSACTION_INITIALIZE, {
      id: checkoutId,
      paymentGateway: { id: this.opts.paymentGatewayId },
      amount: opts.amountCents === undefined ? undefined : fromCents(opts.amountCents, opts.currency),
      idempotencyKey: opts.idempotencyKey,
    });
    const r = d.transactionInitialize;
    this.check('transactionInitialize', r.errors);
    return {
      transactionId: r.transaction!.id,
      paymentUrl: r.transactionEvent?.externalUrl || null,
      eventType: r.transactionEvent?.type ?? null,
      data: r.data,
    };
  }

  async completeCheckout(checkoutId: string): Promise<{ orderId: string; orderNumber: string }> {
    const d = await this.request<{ checkoutComplete: { order: { id: string; number: string } | null; errors: MutationError[] } }>(
      'checkoutComplete',
      docs.CHECKOUT_COMPLETE,
      { id: checkoutId },
    );
    this.check('checkoutComplete', d.checkoutComplete.errors);
    const order = d.checkoutComplete.order!;
    return { orderId: order.id, orderNumber: order.number };
  }

  async getOrder(orderId: string): Promise<SaleorOrder> {
    const d = await this.request<{ order: GqlOrder | null }>('order', docs.ORDER_BY_ID, { id: orderId });
    if (!d.order) throw new SaleorRequestError('order', 'NOT_FOUND', `order ${orderId} does not exist`);
    return mapOrder(d.order);
  }

  async listPaidOrdersSince(since: Date, opts: { pageSize?: number; maxPages?: number } = {}): Promise<SaleorOrder[]> {
    const first = Math.min(opts.pageSize ?? 100, 100); // Saleor's ceiling per page
    const orders: SaleorOrder[] = [];
    let after: string | null = null;
    for (let page = 0; page < (opts.maxPages ?? 50); page++) {
      const d: { orders: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: GqlOrder }[] } } = await this.request(
        'orders',
        docs.PAID_ORDERS_SINCE,
        { since: since.toISOString(), first, after },
      );
      orders.push(...d.orders.edges.map((e) => mapOrder(e.node)));
      if (!d.orders.pageInfo.hasNextPage || !d.orders.pageInfo.endCursor) break;
      after = d.orders.pageInfo.endCursor;
    }
    return orders;
  }

  async markFulfilled(orderId: string, lines?: FulfilLine[]): Promise<{ status: string; fulfilledQuantity: number }> {
    // Fulfil only what is still open, so a retried activity does not trip
    // Saleor's "more than remaining" check on lines it already fulfilled.
    const order = await this.getOrder(orderId);
    const wanted = lines ?? order.lines.map((l) => ({ orderLineId: l.id, quantity: l.quantity }));
    const open = wanted
      .map((w) => {
        const line = order.lines.find((l) => l.id === w.orderLineId);
        if (!line) throw new SaleorRequestError('orderFulfill', 'NOT_FOUND', `order ${orderId} has no line ${w.orderLineId}`);
        return { orderLineId: w.orderLineId, quantity: Math.min(w.quantity, line.quantity - line.quantityFulfilled) };
      })
      .filter((w) => w.quantity > 0);
    if (open.length === 0) return { status: order.status, fulfilledQuantity: 0 };
    const d = await this.request<{ orderFulfill: { order: { id: string; status: string } | null; errors: MutationError[] } }>('orderFulfill', docs.ORDER_FULFILL, {
      order: orderId,
      input: {
        notifyCustomer: false,
        allowStockToBeExceeded: true, // digital goods: stock counts mean nothing
        lines: open.map((l) => ({ orderLineId: l.orderLineId, stocks: [{ quantity: l.quantity, warehouse: this.opts.warehouseId }] })),
      },
    });
    this.check('orderFulfill', d.orderFulfill.errors);
    return { status: d.orderFulfill.order!.status, fulfilledQuantity: open.reduce((n, l) => n + l.quantity, 0) };
  }

  async writeOrderMetadata(orderId: string, metadata: Record<string, string>): Promise<void> {
    const d = await this.request<{ updateMetadata: { errors: MutationError[] } }>('updateMetadata', docs.UPDATE_METADATA, {
      id: orderId,
      input: toMetadataInput(metadata),
    });
    this.check('updateMetadata', d.updateMetadata.errors);
  }

  async requestRefund(orderId: string, amountCents: number, reason: string): Promise<RefundResult> {
    if (!Number.isInteger(amountCents) || amountCents <= 0) {
      throw new SaleorRequestError('orderGrantRefundCreate', 'INVALID', `refund amount must be a positive number of cents, got ${amountCents}`, 'amount');
    }
    const state = await this.request<{
      order: {
        total: { gross: { currency: string } };
        transactions: { id: string; chargedAmount: { amount: number } }[];
        grantedRefunds: { id: string; reason: string | null; status: string; amount: GqlMoney }[];
      } | null;
    }>('order', docs.ORDER_REFUND_STATE, { id: orderId });
    if (!state.order) throw new SaleorRequestError('order', 'NOT_FOUND', `order ${orderId} does not exist`);
    const currency = state.order.total.gross.currency;

    // The reason alone is the key: a retry whose amount was computed again (after part of the order was
    // refunded) must find the refund it granted, not grant a second one.
    let granted = state.order.grantedRefunds.find((g) => g.reason === reason);
    if (granted && (granted.status === 'SUCCESS' || granted.status === 'PENDING')) {
      return { grantedRefundId: granted.id, status: granted.status, requestedNow: false };
    }
    if (!granted) {
      const charged = state.order.transactions.find((t) => t.chargedAmount.amount > 0);
      if (!charged) throw new SaleorRequestError('orderGrantRefundCreate', 'INVALID', `order ${orderId} has no charged transaction to refund`);
      const d = await this.request<{ orderGrantRefundCreate: { grantedRefund: { id: string; status: string; amount: GqlMoney } | null; errors: MutationError[] } }>(
        'orderGrantRefundCreate',
        docs.ORDER_GRANT_REFUND_CREATE,
        { id: orderId, input: { amount: fromCents(amountCents, currency), reason, transactionId: charged.id } },
      );
      this.check('orderGrantRefundCreate', d.orderGrantRefundCreate.errors);
      granted = { ...d.orderGrantRefundCreate.grantedRefund!, reason };
    }
    const r = await this.request<{ transactionRequestRefundForGrantedRefund: { errors: MutationError[] } }>(
      'transactionRequestRefundForGrantedRefund',
      docs.TRANSACTION_REQUEST_REFUND_FOR_GRANTED_REFUND,
      { grantedRefundId: granted.id },
    );
    this.check('transactionRequestRefundForGrantedRefund', r.transactionRequestRefundForGrantedRefund.errors);
    const after = await this.request<{ order: { grantedRefunds: { id: string; status: string }[] } | null }>('order', docs.ORDER_REFUND_STATE, { id: orderId });
    const status = after.order?.grantedRefunds.find((g) => g.id === granted.id)?.status ?? 'PENDING';
    return { grantedRefundId: granted.id, status, requestedNow: true };
  }

  async syncProduct(input: SyncProductInput): Promise<SyncedProduct> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.syncProductOnce(input);
      } catch (err) {
        // Another sync of the same product (two offerings' syncs both carry the credit packs) created the
        // product or a variant between our read and our create: read again, and what exists is kept. Each
        // refusal means the other sync got further (product, then variants), so a few rounds settle it.
        if (!(err instanceof SaleorRequestError && err.code === 'UNIQUE') || attempt >= 4) throw err;
      }
    }
  }

  private async syncProductOnce(input: SyncProductInput): Promise<SyncedProduct> {
    const channelId = await this.resolveChannelId();
    const found = await this.request<{ product: { id: string; productVariants: { edges: { node: { id: string; sku: string | null } }[] } | null } | null }>(
      'product',
      docs.PRODUCT_BY_SLUG,
      { slug: input.slug, channel: this.opts.channel },
    );
    let productId = found.product?.id;
    const existing = new Map<string, string>();
    for (const e of found.product?.productVariants?.edges ?? []) if (e.node.sku) existing.set(e.node.sku, e.node.id);

    if (!productId) {
      const d = await this.request<{ productCreate: { product: { id: string } | null; errors: MutationError[] } }>('productCreate', docs.PRODUCT_CREATE, {
        input: { productType: input.productType, category: input.category, name: input.name, slug: input.slug },
      });
      this.check('productCreate', d.productCreate.errors);
      productId = d.productCreate.product!.id;
    }
    // Publishing is idempotent: repeat it on every sync so a half-done sync heals.
    const listing = await this.request<{ productChannelListingUpdate: { errors: MutationError[] } }>('productChannelListingUpdate', docs.PRODUCT_CHANNEL_LISTING_UPDATE, {
      id: productId,
      input: { updateChannels: [{ channelId, isPublished: true, visibleInListings: true, isAvailableForPurchase: true }] },
    });
    this.check('productChannelListingUpdate', listing.productChannelListingUpdate.errors);

    const missing = input.variants.filter((v) => !existing.has(v.sku));
    if (missing.length > 0) {
      const d = await this.request<{
        productVariantBulkCreate: {
          results: { productVariant: { id: string; sku: string | null } | null; errors: MutationError[] | null }[];
          errors: MutationError[];
        };
      }>('productVariantBulkCreate', docs.PRODUCT_VARIANT_BULK_CREATE, {
        product: productId,
        variants: missing.map((v) => ({
          sku: v.sku,
          name: v.name,
          attributes: [],
          trackInventory: false,
          stocks: [{ warehouse: this.opts.warehouseId, quantity: 1_000_000 }],
          channelListings: [{ channelId, price: fromCents(v.priceCents, v.currency) }],
        })),
      });
      this.check('productVariantBulkCreate', d.productVariantBulkCreate.errors);
      for (const r of d.productVariantBulkCreate.results) {
        this.check('productVariantBulkCreate', r.errors);
        if (r.productVariant?.sku) existing.set(r.productVariant.sku, r.productVariant.id);
      }
    }
    for (const v of input.variants.filter((x) => !missing.includes(x))) {
      const d = await this.request<{ productVariantChannelListingUpdate: { errors: MutationError[] } }>(
        'productVariantChannelListingUpdate',
        docs.PRODUCT_VARIANT_CHANNEL_LISTING_UPDATE,
        { sku: v.sku, input: [{ channelId, price: fromCents(v.priceCents, v.currency) }] },
      );
      this.check('productVariantChannelListingUpdate', d.productVariantChannelListingUpdate.errors);
    }
    return {
      productId,
      variants: input.variants.map((v) => {
        const variantId = existing.get(v.sku);
        if (!variantId) throw new SaleorRequestError('productVariantBulkCreate', 'NOT_FOUND', `variant ${v.sku} was not created`);
        return { sku: v.sku, variantId };
      }),
    };
  }
}

/** The production client, from configuration. */
export function createSaleorClient(config: Pick<Config, 'SALEOR_API_URL' | 'SALEOR_APP_TOKEN' | 'SALEOR_CHANNEL' | 'SALEOR_PAYMENT_GATEWAY_ID' | 'SALEOR_WAREHOUSE_ID' | 'SALEOR_REQUEST_TIMEOUT_MS'>): SaleorClient {
  return new GraphqlSaleorClient({
    apiUrl: config.SALEOR_API_URL,
    appToken: config.SALEOR_APP_TOKEN,
    channel: config.SALEOR_CHANNEL,
    paymentGatewayId: config.SALEOR_PAYMENT_GATEWAY_ID,
    warehouseId: config.SALEOR_WAREHOUSE_ID,
    timeoutMs: config.SALEOR_REQUEST_TIMEOUT_MS,
  });
}
