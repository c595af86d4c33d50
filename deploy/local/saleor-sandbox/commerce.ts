// The Saleor sandbox's commerce rules: the part of Saleor's behaviour CMP
// relies on (catalog, checkout, payment through a payment app, orders,
// fulfilment, granted refunds, metadata), over the persisted state. Each
// operation either changes state or throws a MutationError with one of
// Saleor's error codes, which the GraphQL layer returns in the mutation's `errors`.
import type { CheckoutRecord, Metadata, OrderRecord, SandboxState, StateFile, TransactionRecord, VariantRecord } from './state';
import { SEED, globalId, newUuid, parseGlobalId } from './state';

export class MutationError extends Error {
  constructor(
    readonly code: string,
    readonly field: string | null,
    message: string,
  ) {
    super(message);
  }
}

/** A top-level GraphQL error (wrong id type, missing permission), as Saleor raises them. */
export class SandboxGraphQLError extends Error {
  constructor(
    message: string,
    readonly code = 'GraphQLError',
  ) {
    super(message);
  }
}

export interface CommerceOptions {
  publicUrl: string;
  paymentGatewayId: string;
  onOrderFullyPaid: (orderId: string) => void;
}

const now = () => new Date().toISOString();

/** Resolves a global id of an expected type, as Saleor does ("Invalid ID … Expected: Order"). */
export function expectId(id: string, type: string): string {
  const parsed = parseGlobalId(id);
  if (!parsed || parsed.type !== type) throw new SandboxGraphQLError(`Invalid ID: ${id}. Expected: ${type}.`);
  return id;
}

export function chargedCents(state: SandboxState, transactionIds: string[]): number {
  return transactionIds.reduce((sum, id) => sum + (state.transactions[id]?.chargedCents ?? 0), 0);
}

export function checkoutTotalCents(c: CheckoutRecord): number {
  return c.lines.reduce((sum, l) => sum + l.unitPriceCents * l.quantity, 0);
}

export function orderChargeStatus(state: SandboxState, o: OrderRecord): 'NONE' | 'PARTIAL' | 'FULL' | 'OVERCHARGED' {
  const granted = o.grantedRefunds.filter((g) => g.status === 'SUCCESS').reduce((n, g) => n + g.amountCents, 0);
  const due = o.totalCents - granted;
  const charged = chargedCents(state, o.transactionIds);
  if (charged <= 0 && due > 0) return 'NONE';
  if (charged < due) return 'PARTIAL';
  return charged > due ? 'OVERCHARGED' : 'FULL';
}

export function orderIsPaid(state: SandboxState, o: OrderRecord): boolean {
  return ['FULL', 'OVERCHARGED'].includes(orderChargeStatus(state, o));
}

function variantPrice(v: VariantRecord, channelId: string): number {
  const price = v.pricesCents[channelId];
  if (price === undefined) throw new MutationError('UNAVAILABLE_VARIANT_IN_CHANNEL', 'lines', `Variant ${v.id} is not available in the channel`);
  return price;
}

export class SandboxCommerce {
  constructor(
    readonly store: StateFile,
    readonly opts: CommerceOptions,
  ) {}

  get state(): SandboxState {
    return this.store.state;
  }

  // --- catalog ---------------------------------------------------------

  createProduct(input: { productType: string; category?: string | null; name?: string | null; slug?: string | null; metadata?: { key: string; value: string }[] | null }) {
    if (input.productType !== SEED.productType.id) throw new MutationError('NOT_FOUND', 'productType', `Couldn't resolve to a node: ${input.productType}`);
    if (input.category && input.category !== SEED.category.id) throw new MutationError('NOT_FOUND', 'category', `Couldn't resolve to a node: ${input.category}`);
    if (!input.name) throw new MutationError('REQUIRED', 'name', 'This field cannot be blank.');
    const slug = input.slug ?? input.name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    if (Object.values(this.state.products).some((p) => p.slug === slug)) throw new MutationError('UNIQUE', 'slug', 'Product with this Slug already exists.');
    return this.store.change((s) => {
      const id = globalId('Product', s.nextProductPk++);
      const t = now();
      s.products[id] = {
        id,
        name: input.name!,
        slug,
        productTypeId: input.productType,
        categoryId: input.category ?? null,
        channelListings: [],
        metadata: Object.fromEntries((input.metadata ?? []).map((m) => [m.key, m.value])),
        created: t,
        updatedAt: t,
      };
      return s.products[id]!;
    });
  }

  updateProductChannelListings(productId: string, updateChannels: { channelId: string; isPublished?: boolean | null; visibleInListings?: boolean | null; isAvailableForPurchase?: boolean | null }[]) {
    const product = this.state.products[expectId(productId, 'Product')];
    if (!product) throw new MutationError('NOT_FOUND', 'id', `Couldn't resolve to a node: ${productId}`);
    for (const u of updateChannels) if (u.channelId !== SEED.channel.id) throw new MutationError('NOT_FOUND', 'channelId', `Couldn't resolve to a node: ${u.channelId}`);
    return this.store.change(() => {
      for (const u of updateChannels) {
        const existing = product.channelListings.find((l) => l.channelId === u.channelId);
        const next = {
          channelId: u.channelId,
          isPublished: u.isPublished ?? existing?.isPublished ?? false,
          visibleInListings: u.visibleInListings ?? existing?.visibleInListings ?? false,
          isAvailableForPurchase: u.isAvailableForPurchase ?? existing?.isAvailableForPurchase ?? false,
        };
        product.channelListings = [...product.channelListings.filter((l) => l.channelId !== u.channelId), next];
      }
      product.updatedAt = now();
      return product;
    });
  }

  bulkCreateVariants(
    productId: string,
    variants: {
      sku?: string | null;
      name?: string | null;
      trackInventory?: boolean | null;
      stocks?: { warehouse: string; quantity: number }[] | null;
      channelListings?: { channelId: string; price: string | number }[] | null;
    }[],
  ): VariantRecord[] {
    const product = this.state.products[expectId(productId, 'Product')];
    if (!product) throw new MutationError('NOT_FOUND', 'product', `Couldn't resolve to a node: ${productId}`);
    const skus = new Set(Object.values(this.state.variants).map((v) => v.sku));
    variants.forEach((v, index) => {
      if (v.sku && skus.has(v.sku)) throw Object.assign(new MutationError('UNIQUE', 'sku', `SKU ${v.sku} already exists.`), { index });
      if (v.sku) skus.add(v.sku);
      for (const s of v.stocks ?? []) if (s.warehouse !== SEED.warehouse.id) throw Object.assign(new MutationError('NOT_FOUND', 'warehouse', `Couldn't resolve to a node: ${s.warehouse}`), { index });
      for (const l of v.channelListings ?? []) {
        if (l.channelId !== SEED.channel.id) throw Object.assign(new MutationError('NOT_FOUND', 'channelId', `Couldn't resolve to a node: ${l.channelId}`), { index });
        if (!(Number(l.price) > 0)) throw Object.assign(new MutationError('INVALID_PRICE', 'price', 'Price must be positive.'), { index });
      }
    });
    return this.store.change((s) =>
      variants.map((v) => {
        const id = globalId('ProductVariant', s.nextVariantPk++);
        const t = now();
        const record: VariantRecord = {
          id,
          productId: product.id,
          sku: v.sku ?? null,
          name: v.name ?? '',
          trackInventory: v.trackInventory ?? true,
          pricesCents: Object.fromEntries((v.channelListings ?? []).map((l) => [l.channelId, Math.round(Number(l.price) * 100)])),
          stocks: (v.stocks ?? []).map((st) => ({ warehouseId: st.warehouse, quantity: st.quantity })),
          metadata: {},
          created: t,
          updatedAt: t,
        };
        s.variants[id] = record;
        return record;
      }),
    );
  }

  updateVariantChannelListings(ref: { id?: string | null; sku?: string | null }, input: { channelId: string; price: string | number }[]): VariantRecord {
    const variant = Object.values(this.state.variants).find((v) => (ref.id ? v.id === ref.id : v.sku === ref.sku));
    if (!variant) throw new MutationError('NOT_FOUND', ref.id ? 'id' : 'sku', `Couldn't resolve to a node: ${ref.id ?? ref.sku}`);
    for (const l of input) {
      if (l.channelId !== SEED.channel.id) throw new MutationError('NOT_FOUND', 'channelId', `Couldn't resolve to a node: ${l.channelId}`);
      if (!(Number(l.price) > 0)) throw new MutationError('INVALID', 'price', 'Price must be positive.');
    }
    return this.store.change(() => {
      for (const l of input) variant.pricesCents[l.channelId] = Math.round(Number(l.price) * 100);
      variant.updatedAt = now();
      return variant;
    });
  }

  // --- checkout and payment ---------------------------------------------

  createCheckout(input: { channel?: string | null; email?: string | null; lines: { variantId: string; quantity: number }[]; metadata?: { key: string; value: string }[] | null }): CheckoutRecord {
    if (!input.channel) throw new MutationError('MISSING_CHANNEL_SLUG', 'channel', 'You need to provide channel slug.');
    if (input.channel !== SEED.channel.slug) throw new MutationError('NOT_FOUND', 'channel', `Channel with '${input.channel}' slug does not exist.`);
    if (input.lines.length === 0) throw new MutationError('NO_LINES', 'lines', 'Provide at least one line.');
    const lines = input.lines.map((l) => {
      const variant = this.state.variants[l.variantId];
      if (!variant) throw new MutationError('NOT_FOUND', 'lines', `Couldn't resolve to a node: ${l.variantId}`);
      if (l.quantity <= 0) throw new MutationError('ZERO_QUANTITY', 'quantity', 'The quantity should be higher than zero.');
      const product = this.state.products[variant.productId]!;
      const listing = product.channelListings.find((c) => c.channelId === SEED.channel.id);
      if (!listing?.isPublished || !listing.isAvailableForPurchase) {
        throw new MutationError('PRODUCT_NOT_PUBLISHED', 'lines', `Product of variant ${variant.id} is not published in the channel`);
      }
      return { id: globalId('CheckoutLine', newUuid()), variantId: variant.id, quantity: l.quantity, unitPriceCents: variantPrice(variant, SEED.channel.id) };
    });
    return this.store.change((s) => {
      const token = newUuid();
      const id = globalId('Checkout', token);
      const t = now();
      s.checkouts[id] = {
        id,
        token,
        channelId: SEED.channel.id,
        email: input.email ?? null,
        lines,
        metadata: Object.fromEntries((input.metadata ?? []).map((m) => [m.key, m.value])),
        currency: SEED.channel.currencyCode,
        transactionIds: [],
        orderId: null,
        created: t,
        updatedAt: t,
      };
      return s.checkouts[id]!;
    });
  }

  checkout(checkoutId: string): CheckoutRecord {
    const checkout = this.state.checkouts[expectId(checkoutId, 'Checkout')];
    if (!checkout) throw new MutationError('NOT_FOUND', 'id', `Couldn't resolve to a node: ${checkoutId}`);
    return checkout;
  }

  /** transactionInitialize: the payment app (the sandbox's pay page) asks the buyer to act. */
  initializeTransaction(input: { id: string; paymentGateway: { id: string }; amount?: number | string | null; idempotencyKey?: string | null }) {
    const checkout = this.checkout(input.id);
    if (checkout.orderId) throw new MutationError('INVALID', 'id', 'The checkout has already been completed.');
    if (input.paymentGateway.id !== this.opts.paymentGatewayId) {
      throw new MutationError('NOT_FOUND', 'paymentGateway', `Active app with ${input.paymentGateway.id} identifier not found`);
    }
    if (input.idempotencyKey) {
      for (const tid of checkout.transactionIds) {
        const t = this.state.transactions[tid]!;
        const event = t.events.find((e) => e.idempotencyKey === input.idempotencyKey);
        if (event) return { transaction: t, event };
      }
    }
    const due = checkoutTotalCents(checkout) - chargedCents(this.state, checkout.transactionIds);
    const amountCents = input.amount === undefined || input.amount === null ? due : Math.round(Number(input.amount) * 100);
    return this.store.change((s) => {
      const token = newUuid();
      const id = globalId('TransactionItem', token);
      const t = now();
      const externalUrl = `${this.opts.publicUrl}/checkout/${encodeURIComponent(checkout.id)}/pay`;
      const event = {
        id: globalId('TransactionEvent', newUuid()),
        type: 'CHARGE_ACTION_REQUIRED',
        amountCents,
        pspReference: `sandbox-${token.slice(0, 8)}`,
        message: 'Open the payment page to pay',
        externalUrl,
        idempotencyKey: input.idempotencyKey ?? null,
        createdAt: t,
      };
      const transaction: TransactionRecord = {
        id,
        token,
        name: 'Saleor sandbox pay page',
        pspReference: event.pspReference,
        checkoutId: checkout.id,
        orderId: null,
        currency: checkout.currency,
        chargedCents: 0,
        refundedCents: 0,
        events: [event],
        createdAt: t,
        modifiedAt: t,
      };
      s.transactions[id] = transaction;
      checkout.transactionIds.push(id);
      checkout.updatedAt = t;
      return { transaction, event };
    });
  }

  /** The buyer paid on the pay page: charge the checkout in full, then complete it into an order. */
  payCheckout(checkoutId: string): OrderRecord {
    const checkout = this.checkout(checkoutId);
    if (checkout.orderId) return this.state.orders[checkout.orderId]!;
    const due = checkoutTotalCents(checkout) - chargedCents(this.state, checkout.transactionIds);
    if (due > 0) {
      this.store.change((s) => {
        let transaction = [...checkout.transactionIds].reverse().map((id) => s.transactions[id]!).find((t) => t.chargedCents === 0);
        if (!transaction) {
          const token = newUuid();
          transaction = {
            id: globalId('TransactionItem', token),
            token,
            name: 'Saleor sandbox pay page',
            pspReference: `sandbox-${token.slice(0, 8)}`,
            checkoutId: checkout.id,
            orderId: null,
            currency: checkout.currency,
            chargedCents: 0,
            refundedCents: 0,
            events: [],
            createdAt: now(),
            modifiedAt: now(),
          };
          s.transactions[transaction.id] = transaction;
          checkout.transactionIds.push(transaction.id);
        }
        transaction.chargedCents += due;
        transaction.modifiedAt = now();
        transaction.events.push({
          id: globalId('TransactionEvent', newUuid()),
          type: 'CHARGE_SUCCESS',
          amountCents: due,
          pspReference: transaction.pspReference,
          message: 'Paid on the Saleor sandbox pay page',
          externalUrl: '',
          idempotencyKey: null,
          createdAt: now(),
        });
      });
    }
    return this.completeCheckout(checkoutId);
  }

  /** The buyer declined on the pay page: the charge fails, the checkout stays open. */
  declineCheckout(checkoutId: string): CheckoutRecord {
    const checkout = this.checkout(checkoutId);
    if (checkout.orderId) throw new MutationError('INVALID', 'id', 'The checkout has already been completed.');
    return this.store.change((s) => {
      const last = checkout.transactionIds.at(-1);
      const transaction = last ? s.transactions[last] : undefined;
      transaction?.events.push({
        id: globalId('TransactionEvent', newUuid()),
        type: 'CHARGE_FAILURE',
        amountCents: checkoutTotalCents(checkout),
        pspReference: transaction.pspReference,
        message: 'Declined on the Saleor sandbox pay page',
        externalUrl: '',
        idempotencyKey: null,
        createdAt: now(),
      });
      checkout.updatedAt = now();
      return checkout;
    });
  }

  /** checkoutComplete: only a fully paid checkout becomes an order; a completed one answers its order again. */
  completeCheckout(checkoutId: string): OrderRecord {
    const checkout = this.checkout(checkoutId);
    if (checkout.orderId) return this.state.orders[checkout.orderId]!;
    if (!checkout.email) throw new MutationError('EMAIL_NOT_SET', 'email', 'Checkout email must be set.');
    const total = checkoutTotalCents(checkout);
    if (chargedCents(this.state, checkout.transactionIds) < total) {
      throw new MutationError('CHECKOUT_NOT_FULLY_PAID', 'id', 'The authorized amount doesn\'t cover the checkout\'s total amount.');
    }
    const order = this.store.change((s) => {
      const id = globalId('Order', newUuid());
      const t = now();
      const record: OrderRecord = {
        id,
        number: s.nextOrderNumber++,
        checkoutId: checkout.id,
        channelId: checkout.channelId,
        userEmail: checkout.email,
        status: 'UNFULFILLED',
        currency: checkout.currency,
        totalCents: total,
        lines: checkout.lines.map((l) => {
          const variant = s.variants[l.variantId]!;
          return {
            id: globalId('OrderLine', newUuid()),
            variantId: variant.id,
            productName: s.products[variant.productId]!.name,
            variantName: variant.name,
            sku: variant.sku,
            quantity: l.quantity,
            quantityFulfilled: 0,
            unitPriceCents: l.unitPriceCents,
          };
        }),
        // Saleor copies the checkout's metadata onto the order.
        metadata: { ...checkout.metadata },
        privateMetadata: {},
        transactionIds: [...checkout.transactionIds],
        fulfillments: [],
        grantedRefunds: [],
        created: t,
        updatedAt: t,
      };
      s.orders[id] = record;
      for (const tid of checkout.transactionIds) s.transactions[tid]!.orderId = id;
      checkout.orderId = id;
      checkout.updatedAt = t;
      return record;
    });
    if (orderIsPaid(this.state, order)) this.opts.onOrderFullyPaid(order.id);
    return order;
  }

  // --- orders ------------------------------------------------------------

  order(orderId: string): OrderRecord {
    const order = this.state.orders[expectId(orderId, 'Order')];
    if (!order) throw new MutationError('NOT_FOUND', 'id', `Couldn't resolve to a node: ${orderId}`);
    return order;
  }

  fulfil(orderId: string, lines: { orderLineId?: string | null; stocks: { quantity: number; warehouse: string }[] }[]) {
    const order = this.order(orderId);
    if (!orderIsPaid(this.state, order)) throw new MutationError('CANNOT_FULFILL_UNPAID_ORDER', 'order', 'Cannot fulfill unpaid order.');
    if (order.status === 'CANCELED') throw new MutationError('INVALID', 'order', 'Cannot fulfill a canceled order.');
    const planned = lines.map((l) => {
      const line = order.lines.find((x) => x.id === l.orderLineId);
      if (!line) throw new MutationError('NOT_FOUND', 'orderLineId', `Couldn't resolve to a node: ${l.orderLineId}`);
      for (const s of l.stocks) if (s.warehouse !== SEED.warehouse.id) throw new MutationError('NOT_FOUND', 'warehouse', `Couldn't resolve to a node: ${s.warehouse}`);
      const quantity = l.stocks.reduce((n, s) => n + s.quantity, 0);
      if (quantity <= 0) throw new MutationError('ZERO_QUANTITY', 'stocks', 'Total quantity must be larger than 0.');
      if (quantity > line.quantity - line.quantityFulfilled) {
        throw new MutationError('FULFILL_ORDER_LINE', 'orderLineId', `Only ${line.quantity - line.quantityFulfilled} items remaining to fulfill: ${line.id}.`);
      }
      return { line, quantity };
    });
    return this.store.change(() => {
      for (const p of planned) p.line.quantityFulfilled += p.quantity;
      const fulfillment = {
        id: globalId('Fulfillment', newUuid()),
        fulfillmentOrder: order.fulfillments.length + 1,
        status: 'FULFILLED' as const,
        lines: planned.map((p) => ({ orderLineId: p.line.id, quantity: p.quantity, warehouseId: SEED.warehouse.id })),
        created: now(),
      };
      order.fulfillments.push(fulfillment);
      order.status = order.lines.every((l) => l.quantityFulfilled >= l.quantity) ? 'FULFILLED' : 'PARTIALLY_FULFILLED';
      order.updatedAt = now();
      return { order, fulfillment };
    });
  }

  updateMetadata(id: string, items: { key: string; value: string }[]): { typename: string; metadata: Metadata } {
    const parsed = parseGlobalId(id);
    const target: { metadata: Metadata; updatedAt: string } | undefined =
      parsed?.type === 'Order' ? this.state.orders[id] : parsed?.type === 'Checkout' ? this.state.checkouts[id] : parsed?.type === 'Product' ? this.state.products[id] : undefined;
    if (!parsed || !target) throw new MutationError('NOT_FOUND', 'id', `Couldn't resolve to a node: ${id}`);
    if (items.some((i) => !i.key)) throw new MutationError('REQUIRED', 'input', 'Metadata key cannot be empty.');
    return this.store.change(() => {
      for (const i of items) target.metadata[i.key] = i.value;
      target.updatedAt = now();
      return { typename: parsed.type, metadata: target.metadata };
    });
  }

  grantRefund(orderId: string, input: { amount?: string | number | null; reason?: string | null; transactionId: string }) {
    const order = this.order(orderId);
    const transaction = this.state.transactions[input.transactionId];
    if (!transaction || transaction.orderId !== order.id) throw new MutationError('NOT_FOUND', 'transactionId', `Couldn't resolve to a transaction: ${input.transactionId}`);
    const amountCents = input.amount === undefined || input.amount === null ? order.totalCents : Math.round(Number(input.amount) * 100);
    const alreadyGranted = order.grantedRefunds.filter((g) => g.status !== 'FAILURE').reduce((n, g) => n + g.amountCents, 0);
    if (amountCents <= 0) throw new MutationError('INVALID', 'amount', 'Amount must be positive.');
    if (amountCents + alreadyGranted > chargedCents(this.state, order.transactionIds) + this.refundedCents(order)) {
      throw new MutationError('AMOUNT_GREATER_THAN_AVAILABLE', 'amount', 'Amount cannot be greater than the charged amount.');
    }
    return this.store.change(() => {
      const granted = {
        id: globalId('OrderGrantedRefund', newUuid()),
        amountCents,
        reason: input.reason ?? null,
        transactionId: transaction.id,
        status: 'NONE' as const,
        createdAt: now(),
        updatedAt: now(),
      };
      order.grantedRefunds.push(granted);
      order.updatedAt = now();
      return { order, granted };
    });
  }

  /** transactionRequestRefundForGrantedRefund: the sandbox's payment app refunds at once and reports success. */
  refundGranted(grantedRefundId: string) {
    const order = Object.values(this.state.orders).find((o) => o.grantedRefunds.some((g) => g.id === grantedRefundId));
    const granted = order?.grantedRefunds.find((g) => g.id === grantedRefundId);
    if (!order || !granted) throw new MutationError('NOT_FOUND', 'grantedRefundId', `Couldn't resolve to a node: ${grantedRefundId}`);
    if (granted.status === 'SUCCESS') throw new MutationError('REFUND_ALREADY_PROCESSED', 'grantedRefundId', 'The granted refund has already been processed.');
    if (granted.status === 'PENDING') throw new MutationError('REFUND_IS_PENDING', 'grantedRefundId', 'The granted refund is pending.');
    const transaction = this.state.transactions[granted.transactionId]!;
    if (granted.amountCents > transaction.chargedCents) throw new MutationError('AMOUNT_GREATER_THAN_AVAILABLE', 'grantedRefundId', 'Not enough charged funds to refund.');
    return this.store.change(() => {
      const t = now();
      for (const type of ['REFUND_REQUEST', 'REFUND_SUCCESS']) {
        transaction.events.push({
          id: globalId('TransactionEvent', newUuid()),
          type,
          amountCents: granted.amountCents,
          pspReference: transaction.pspReference,
          message: granted.reason ?? '',
          externalUrl: '',
          idempotencyKey: null,
          createdAt: t,
        });
      }
      transaction.chargedCents -= granted.amountCents;
      transaction.refundedCents += granted.amountCents;
      transaction.modifiedAt = t;
      granted.status = 'SUCCESS';
      granted.updatedAt = t;
      order.updatedAt = t;
      return transaction;
    });
  }

  refundedCents(order: OrderRecord): number {
    return order.transactionIds.reduce((n, id) => n + (this.state.transactions[id]?.refundedCents ?? 0), 0);
  }
}
