// The Saleor sandbox's GraphQL endpoint: documents are parsed, validated and
// executed by graphql-js against the sandbox's SDL (schema.graphql: the part of
// Saleor's real schema that CMP's documents use, core/saleor/documents.ts, with
// Saleor's own types), with resolvers for those root fields only. Response
// shapes are therefore Saleor's by construction; any other root field answers
// a GraphQL error.
import { GraphQLError, Kind, execute, parse, validate, type DocumentNode, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import type { CheckoutRecord, OrderRecord, ProductRecord, SandboxState, TransactionEventRecord, TransactionRecord, VariantRecord } from './state';
import { SEED } from './state';
import { MutationError, SandboxCommerce, SandboxGraphQLError, chargedCents, checkoutTotalCents, expectId, orderChargeStatus, orderIsPaid } from './commerce';

/** Root fields the sandbox implements, and whether they need the app token (Saleor's MANAGE_* permissions). */
export const IMPLEMENTED_ROOT_FIELDS: Record<string, { needsToken: boolean }> = {
  channel: { needsToken: false },
  product: { needsToken: true },
  order: { needsToken: true },
  orders: { needsToken: true },
  productCreate: { needsToken: true },
  productChannelListingUpdate: { needsToken: true },
  productVariantBulkCreate: { needsToken: true },
  productVariantChannelListingUpdate: { needsToken: true },
  checkoutCreate: { needsToken: false },
  transactionInitialize: { needsToken: false },
  checkoutComplete: { needsToken: false },
  orderFulfill: { needsToken: true },
  updateMetadata: { needsToken: true },
  orderGrantRefundCreate: { needsToken: true },
  transactionRequestRefundForGrantedRefund: { needsToken: true },
};

// --- views: records shaped as Saleor's types ------------------------------

const money = (cents: number, currency: string) => ({ amount: cents / 100, currency, fractionalAmount: cents, fractionDigits: 2 });
const taxed = (cents: number, currency: string) => ({ currency, gross: money(cents, currency), net: money(cents, currency), tax: money(0, currency) });
const items = (m: Record<string, string>) => Object.entries(m).map(([key, value]) => ({ key, value }));

function eventView(e: TransactionEventRecord, currency: string) {
  return {
    id: e.id,
    createdAt: e.createdAt,
    pspReference: e.pspReference,
    message: e.message,
    externalUrl: e.externalUrl,
    amount: money(e.amountCents, currency),
    type: e.type,
    idempotencyKey: e.idempotencyKey,
  };
}

function transactionView(t: TransactionRecord) {
  return {
    __typename: 'TransactionItem',
    id: t.id,
    token: t.token,
    name: t.name,
    message: '',
    pspReference: t.pspReference,
    externalUrl: '',
    createdAt: t.createdAt,
    modifiedAt: t.modifiedAt,
    actions: ['REFUND'],
    metadata: [],
    privateMetadata: [],
    chargedAmount: money(t.chargedCents, t.currency),
    refundedAmount: money(t.refundedCents, t.currency),
    authorizedAmount: money(0, t.currency),
    authorizePendingAmount: money(0, t.currency),
    refundPendingAmount: money(0, t.currency),
    canceledAmount: money(0, t.currency),
    cancelPendingAmount: money(0, t.currency),
    chargePendingAmount: money(0, t.currency),
    events: t.events.map((e) => eventView(e, t.currency)),
  };
}

export function orderView(state: SandboxState, o: OrderRecord) {
  const transactions = o.transactionIds.map((id) => state.transactions[id]!);
  const refunded = transactions.reduce((n, t) => n + t.refundedCents, 0);
  return {
    __typename: 'Order',
    id: o.id,
    number: String(o.number),
    status: o.status,
    created: o.created,
    updatedAt: o.updatedAt,
    userEmail: o.userEmail,
    checkoutId: o.checkoutId,
    isPaid: orderIsPaid(state, o),
    chargeStatus: orderChargeStatus(state, o),
    total: taxed(o.totalCents, o.currency),
    totalCharged: money(chargedCents(state, o.transactionIds), o.currency),
    totalRefunded: money(refunded, o.currency),
    metadata: items(o.metadata),
    privateMetadata: items(o.privateMetadata),
    lines: o.lines.map((l) => ({
      __typename: 'OrderLine',
      id: l.id,
      productVariantId: l.variantId,
      productSku: l.sku,
      productName: l.productName,
      variantName: l.variantName,
      quantity: l.quantity,
      quantityFulfilled: l.quantityFulfilled,
      quantityToFulfill: l.quantity - l.quantityFulfilled,
      unitPrice: taxed(l.unitPriceCents, o.currency),
      totalPrice: taxed(l.unitPriceCents * l.quantity, o.currency),
      metadata: [],
    })),
    transactions: transactions.map(transactionView),
    fulfillments: o.fulfillments.map((f) => ({ id: f.id, fulfillmentOrder: f.fulfillmentOrder, status: f.status, created: f.created, trackingNumber: '', metadata: [] })),
    grantedRefunds: o.grantedRefunds.map((g) => ({
      id: g.id,
      createdAt: g.createdAt,
      updatedAt: g.updatedAt,
      amount: money(g.amountCents, o.currency),
      reason: g.reason,
      status: g.status,
      shippingCostsIncluded: false,
      transaction: () => transactionView(state.transactions[g.transactionId]!),
    })),
  };
}

function checkoutView(state: SandboxState, c: CheckoutRecord) {
  const total = checkoutTotalCents(c);
  return {
    __typename: 'Checkout',
    id: c.id,
    token: c.token,
    email: c.email,
    created: c.created,
    updatedAt: c.updatedAt,
    metadata: items(c.metadata),
    totalPrice: taxed(total, c.currency),
    subtotalPrice: taxed(total, c.currency),
    quantity: c.lines.reduce((n, l) => n + l.quantity, 0),
    transactions: c.transactionIds.map((id) => transactionView(state.transactions[id]!)),
  };
}

function variantView(state: SandboxState, v: VariantRecord) {
  return {
    __typename: 'ProductVariant',
    id: v.id,
    sku: v.sku,
    name: v.name,
    trackInventory: v.trackInventory,
    created: v.created,
    updatedAt: v.updatedAt,
    metadata: items(v.metadata),
    channelListings: Object.entries(v.pricesCents).map(([channelId, cents]) => ({
      id: `${v.id}:${channelId}`,
      channel: channelView(),
      price: money(cents, SEED.channel.currencyCode),
    })),
    product: () => productView(state, state.products[v.productId]!),
  };
}

function productView(state: SandboxState, p: ProductRecord) {
  const variants = Object.values(state.variants).filter((v) => v.productId === p.id);
  return {
    __typename: 'Product',
    id: p.id,
    name: p.name,
    slug: p.slug,
    created: p.created,
    updatedAt: p.updatedAt,
    metadata: items(p.metadata),
    productVariants: ({ first }: { first?: number | null }) => {
      const page = variants.slice(0, Math.min(first ?? 100, 100));
      return {
        totalCount: variants.length,
        pageInfo: { hasNextPage: variants.length > page.length, hasPreviousPage: false, startCursor: null, endCursor: null },
        edges: page.map((v) => ({ cursor: v.id, node: variantView(state, v) })),
      };
    },
  };
}

const channelView = () => ({ __typename: 'Channel', ...SEED.channel, isActive: true, metadata: [] });

// --- root value ------------------------------------------------------------

/** Runs a mutation body; a MutationError becomes Saleor's `{ errors: [{ field, message, code }] }`. */
function mutation<T extends object>(fn: () => T): T | { errors: { field: string | null; message: string; code: string; index?: number }[] } {
  try {
    return { errors: [], ...fn() };
  } catch (err) {
    if (err instanceof MutationError) {
      const index = (err as MutationError & { index?: number }).index;
      return { errors: [{ field: err.field, message: err.message, code: err.code, ...(index === undefined ? {} : { index }) }] };
    }
    throw err;
  }
}

type Args = Record<string, any>;

function matchesOrderWhere(state: SandboxState, o: OrderRecord, where: Args | undefined): boolean {
  if (!where) return true;
  if (where.chargeStatus?.eq && orderChargeStatus(state, o) !== where.chargeStatus.eq) return false;
  if (where.chargeStatus?.oneOf && !where.chargeStatus.oneOf.includes(orderChargeStatus(state, o))) return false;
  if (where.status?.eq && o.status !== where.status.eq) return false;
  if (where.status?.oneOf && !where.status.oneOf.includes(o.status)) return false;
  if (where.ids && !where.ids.includes(o.id)) return false;
  for (const [field, value] of [['updatedAt', o.updatedAt], ['createdAt', o.created]] as const) {
    const range = where[field] as { gte?: string; lte?: string } | undefined;
    if (range?.gte && Date.parse(value) < Date.parse(range.gte)) return false;
    if (range?.lte && Date.parse(value) > Date.parse(range.lte)) return false;
  }
  if (where.AND && !(where.AND as Args[]).every((w) => matchesOrderWhere(state, o, w))) return false;
  if (where.OR && !(where.OR as Args[]).some((w) => matchesOrderWhere(state, o, w))) return false;
  return true;
}

const cursorFor = (offset: number) => Buffer.from(`offset:${offset}`).toString('base64');
function offsetFrom(cursor: string | null | undefined): number {
  if (!cursor) return 0;
  const m = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  if (!m) throw new SandboxGraphQLError(`Invalid cursor: ${cursor}`);
  return Number(m[1]);
}

export function createRootValue(commerce: SandboxCommerce) {
  const state = () => commerce.state;
  return {
    // queries
    channel: ({ slug }: Args) => (slug === SEED.channel.slug ? channelView() : null),
    product: ({ slug, id }: Args) => {
      const p = Object.values(state().products).find((x) => (id ? x.id === id : x.slug === slug));
      return p ? productView(state(), p) : null;
    },
    order: ({ id }: Args) => {
      const o = state().orders[expectId(id, 'Order')];
      return o ? orderView(state(), o) : null;
    },
    orders: ({ where, sortBy, first, after }: Args) => {
      const sortKey: (o: OrderRecord) => number = sortBy?.field === 'NUMBER' ? (o) => o.number : sortBy?.field === 'LAST_MODIFIED_AT' ? (o) => Date.parse(o.updatedAt) : (o) => Date.parse(o.created);
      const dir = sortBy?.direction === 'DESC' ? -1 : 1;
      const all = Object.values(state().orders)
        .filter((o) => matchesOrderWhere(state(), o, where))
        .sort((a, b) => dir * (sortKey(a) - sortKey(b)) || a.number - b.number);
      const start = offsetFrom(after);
      const size = Math.min(first ?? 100, 100);
      const page = all.slice(start, start + size);
      return {
        totalCount: all.length,
        pageInfo: {
          hasNextPage: start + page.length < all.length,
          hasPreviousPage: start > 0,
          startCursor: page.length ? cursorFor(start + 1) : null,
          endCursor: page.length ? cursorFor(start + page.length) : null,
        },
        edges: page.map((o, i) => ({ cursor: cursorFor(start + i + 1), node: orderView(state(), o) })),
      };
    },

    // catalog
    productCreate: ({ input }: Args) => mutation(() => ({ product: productView(state(), commerce.createProduct(input)) })),
    productChannelListingUpdate: ({ id, input }: Args) =>
      mutation(() => ({ product: productView(state(), commerce.updateProductChannelListings(id, input.updateChannels ?? [])) })),
    productVariantBulkCreate: ({ product, variants }: Args) => {
      const r = mutation(() => {
        const created = commerce.bulkCreateVariants(product, variants);
        return {
          count: created.length,
          productVariants: created.map((v) => variantView(state(), v)),
          results: created.map((v) => ({ productVariant: variantView(state(), v), errors: [] })),
        };
      });
      return { count: 0, productVariants: [], results: [], ...r };
    },
    productVariantChannelListingUpdate: ({ id, sku, input }: Args) => mutation(() => ({ variant: variantView(state(), commerce.updateVariantChannelListings({ id, sku }, input)) })),

    // checkout and payment
    checkoutCreate: ({ input }: Args) => mutation(() => ({ checkout: checkoutView(state(), commerce.createCheckout(input)) })),
    transactionInitialize: (args: Args) =>
      mutation(() => {
        const { transaction, event } = commerce.initializeTransaction(args as Parameters<SandboxCommerce['initializeTransaction']>[0]);
        return {
          transaction: transactionView(transaction),
          transactionEvent: eventView(event, transaction.currency),
          // What a payment app answers in TRANSACTION_INITIALIZE_SESSION's `data`.
          data: { paymentUrl: event.externalUrl, sandbox: true },
        };
      }),
    checkoutComplete: ({ id, checkoutId }: Args) =>
      mutation(() => ({ order: orderView(state(), commerce.completeCheckout(id ?? checkoutId)), confirmationNeeded: false })),

    // orders
    orderFulfill: ({ order, input }: Args) =>
      mutation(() => {
        const r = commerce.fulfil(order, input.lines);
        return { order: orderView(state(), r.order), fulfillments: [{ id: r.fulfillment.id, status: r.fulfillment.status }] };
      }),
    updateMetadata: ({ id, input }: Args) =>
      mutation(() => {
        const r = commerce.updateMetadata(id, input);
        return { item: { __typename: r.typename, metadata: items(r.metadata), privateMetadata: [] } };
      }),
    orderGrantRefundCreate: ({ id, input }: Args) =>
      mutation(() => {
        const { order, granted } = commerce.grantRefund(id, input);
        const view = orderView(state(), order);
        return { order: view, grantedRefund: view.grantedRefunds.find((g) => g.id === granted.id) };
      }),
    transactionRequestRefundForGrantedRefund: ({ grantedRefundId }: Args) =>
      mutation(() => ({ transaction: transactionView(commerce.refundGranted(grantedRefundId)) })),
  };
}

// --- execution ---------------------------------------------------------------

interface SaleorErrorJson {
  message: string;
  locations?: { line: number; column: number }[];
  path?: readonly (string | number)[];
  extensions: { exception: { code: string } };
}

function formatError(err: GraphQLError): SaleorErrorJson {
  const original = err.originalError;
  const code = original instanceof SandboxGraphQLError ? original.code : 'GraphQLError';
  return {
    message: err.message,
    ...(err.locations ? { locations: err.locations.map((l) => ({ line: l.line, column: l.column })) } : {}),
    ...(err.path ? { path: err.path } : {}),
    extensions: { exception: { code } },
  };
}

export interface GraphqlRequest {
  query?: unknown;
  variables?: unknown;
  operationName?: unknown;
}

export interface GraphqlAnswer {
  status: number;
  body: { data?: unknown; errors?: SaleorErrorJson[] };
}

/** Runs one request as Saleor would answer it (400 for unparseable or invalid documents). */
export async function runGraphql(schema: GraphQLSchema, rootValue: object, req: GraphqlRequest, authorized: boolean): Promise<GraphqlAnswer> {
  const fail = (status: number, message: string, code = 'GraphQLError'): GraphqlAnswer => ({ status, body: { errors: [{ message, extensions: { exception: { code } } }] } });
  if (typeof req.query !== 'string' || !req.query.trim()) return fail(400, 'Must provide a query string.');
  let document: DocumentNode;
  try {
    document = parse(req.query);
  } catch (err) {
    return { status: 400, body: { errors: [formatError(err as GraphQLError)] } };
  }

  const operationName = typeof req.operationName === 'string' ? req.operationName : undefined;
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  if (!operation) return fail(400, 'Must provide a valid operation name.');
  if (operation.operation === 'subscription') return fail(400, 'Subscriptions are only used for webhook payloads.');
  // Root fields first: a Saleor operation the sandbox lacks says so, rather than "Cannot query field" from the subset SDL.
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) return fail(200, 'The Saleor sandbox supports plain root fields only.');
    const field = selection.name.value;
    if (field === '__typename') continue;
    if (!IMPLEMENTED_ROOT_FIELDS[field]) return fail(200, `Saleor sandbox — local stand-in, not Saleor: "${field}" is not implemented (only the operations in core/saleor/documents.ts are).`);
  }
  const invalid = validate(schema, document);
  if (invalid.length) return { status: 400, body: { errors: invalid.map(formatError) } };
  for (const selection of operation.selectionSet.selections) {
    const field = selection.kind === Kind.FIELD ? selection.name.value : '';
    if (IMPLEMENTED_ROOT_FIELDS[field]?.needsToken && !authorized) {
      return fail(200, `To access this path, you need one of the following permissions: MANAGE_ORDERS, MANAGE_PRODUCTS (${field})`, 'PermissionDenied');
    }
  }
  const result = (await execute({
    schema,
    document,
    rootValue,
    operationName,
    variableValues: (req.variables ?? {}) as Record<string, unknown>,
  })) as ExecutionResult;
  return {
    status: 200,
    body: { data: result.data ?? null, ...(result.errors?.length ? { errors: result.errors.map(formatError) } : {}) },
  };
}

/** The webhook body for an order event: the subscription query executed against the order, `event` unwrapped as Saleor sends it. */
export async function webhookPayload(schema: GraphQLSchema, subscription: string, state: SandboxState, orderId: string, typename: string): Promise<unknown> {
  const order = state.orders[orderId];
  if (!order) throw new Error(`no order ${orderId}`);
  const result = (await execute({
    schema,
    document: parse(subscription),
    rootValue: { event: { __typename: typename, issuedAt: new Date().toISOString(), version: '3.23.28', order: orderView(state, order) } },
  })) as ExecutionResult<{ event: unknown }>;
  if (result.errors?.length) throw new Error(`webhook payload failed: ${result.errors.map((e) => e.message).join('; ')}`);
  return result.data!.event;
}
