// Saleor sandbox state: everything the sandbox knows, in one JSON file in its
// data folder, rewritten atomically (temp file + rename) after each change so
// a restart loses nothing. Amounts are kept in cents; GraphQL shows decimals.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';

export type Metadata = Record<string, string>;

export interface ProductRecord {
  id: string;
  name: string;
  slug: string;
  productTypeId: string;
  categoryId: string | null;
  channelListings: { channelId: string; isPublished: boolean; isAvailableForPurchase: boolean; visibleInListings: boolean }[];
  metadata: Metadata;
  created: string;
  updatedAt: string;
}

export interface VariantRecord {
  id: string;
  productId: string;
  sku: string | null;
  name: string;
  trackInventory: boolean;
  /** channel id → price in cents */
  pricesCents: Record<string, number>;
  stocks: { warehouseId: string; quantity: number }[];
  metadata: Metadata;
  created: string;
  updatedAt: string;
}

export interface CheckoutRecord {
  id: string;
  token: string;
  channelId: string;
  email: string | null;
  lines: { id: string; variantId: string; quantity: number; unitPriceCents: number }[];
  metadata: Metadata;
  currency: string;
  transactionIds: string[];
  /** Set once the checkout became an order (Saleor then deletes it; we keep it for checkoutComplete's repeat answer). */
  orderId: string | null;
  created: string;
  updatedAt: string;
}

export interface TransactionEventRecord {
  id: string;
  type: string;
  amountCents: number;
  pspReference: string;
  message: string;
  externalUrl: string;
  idempotencyKey: string | null;
  createdAt: string;
}

export interface TransactionRecord {
  id: string;
  token: string;
  name: string;
  pspReference: string;
  checkoutId: string | null;
  orderId: string | null;
  currency: string;
  chargedCents: number;
  refundedCents: number;
  events: TransactionEventRecord[];
  createdAt: string;
  modifiedAt: string;
}

export interface OrderLineRecord {
  id: string;
  variantId: string;
  productName: string;
  variantName: string;
  sku: string | null;
  quantity: number;
  quantityFulfilled: number;
  unitPriceCents: number;
}

export interface FulfillmentRecord {
  id: string;
  fulfillmentOrder: number;
  status: 'FULFILLED';
  lines: { orderLineId: string; quantity: number; warehouseId: string }[];
  created: string;
}

export interface GrantedRefundRecord {
  id: string;
  amountCents: number;
  reason: string | null;
  transactionId: string;
  status: 'NONE' | 'PENDING' | 'SUCCESS' | 'FAILURE';
  createdAt: string;
  updatedAt: string;
}

export interface OrderRecord {
  id: string;
  number: number;
  checkoutId: string;
  channelId: string;
  userEmail: string | null;
  status: 'UNFULFILLED' | 'PARTIALLY_FULFILLED' | 'FULFILLED' | 'CANCELED';
  currency: string;
  totalCents: number;
  lines: OrderLineRecord[];
  metadata: Metadata;
  privateMetadata: Metadata;
  transactionIds: string[];
  fulfillments: FulfillmentRecord[];
  grantedRefunds: GrantedRefundRecord[];
  created: string;
  updatedAt: string;
}

export interface DeliveryAttempt {
  at: string;
  status: number | null;
  error: string | null;
  durationMs: number;
}

export interface DeliveryRecord {
  id: string;
  event: string;
  orderId: string;
  targetUrl: string;
  /** The exact bytes signed and sent, so a resumed delivery sends the same thing. */
  body: string;
  signature: string;
  state: 'pending' | 'delivered' | 'failed';
  /** Retries done so far (the first attempt is not a retry). */
  retries: number;
  nextAttemptAt: string;
  attempts: DeliveryAttempt[];
  createdAt: string;
}

export interface SandboxState {
  version: 1;
  nextProductPk: number;
  nextVariantPk: number;
  nextOrderNumber: number;
  products: Record<string, ProductRecord>;
  variants: Record<string, VariantRecord>;
  checkouts: Record<string, CheckoutRecord>;
  transactions: Record<string, TransactionRecord>;
  orders: Record<string, OrderRecord>;
  deliveries: DeliveryRecord[];
}

/** Saleor's global ids: base64 of "<Type>:<primary key>". */
export const globalId = (type: string, pk: string | number) => Buffer.from(`${type}:${pk}`).toString('base64');

export function parseGlobalId(id: string): { type: string; pk: string } | null {
  const decoded = Buffer.from(id, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i <= 0 || Buffer.from(decoded).toString('base64') !== id) return null;
  return { type: decoded.slice(0, i), pk: decoded.slice(i + 1) };
}

/** The fixed objects every sandbox has: the ids CMP's config defaults point at. */
export const SEED = {
  channel: { id: globalId('Channel', 1), slug: 'default-channel', name: 'Default channel', currencyCode: 'USD' },
  warehouse: { id: globalId('Warehouse', '8e2b3a52-2a5e-4f5e-9d8e-0c6f3f1a0001'), name: 'Digital delivery' },
  productType: { id: globalId('ProductType', 1), name: 'AI agent plan' },
  category: { id: globalId('Category', 1), name: 'AI agents' },
} as const;

export const newUuid = () => randomUUID();

function emptyState(): SandboxState {
  return {
    version: 1,
    nextProductPk: 1,
    nextVariantPk: 1,
    nextOrderNumber: 1,
    products: {},
    variants: {},
    checkouts: {},
    transactions: {},
    orders: {},
    deliveries: [],
  };
}

export class StateFile {
  readonly file: string;
  state: SandboxState;

  constructor(dataDir: string) {
    fs.mkdirSync(dataDir, { recursive: true });
    this.file = path.join(dataDir, 'saleor-sandbox-state.json');
    this.state = fs.existsSync(this.file) ? (JSON.parse(fs.readFileSync(this.file, 'utf8')) as SandboxState) : emptyState();
  }

  /** Runs a change and persists it before returning (synchronous, so changes never interleave). */
  change<T>(fn: (s: SandboxState) => T): T {
    const result = fn(this.state);
    this.save();
    return result;
  }

  save(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeFileSync(fd, JSON.stringify(this.state));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
  }
}
