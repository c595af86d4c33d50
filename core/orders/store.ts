// Orders (a Saleor order, or a free subscription's own order) and the
// webhook deliveries that announced them. The order's id is Saleor's (or
// `free-<uuid>`); its workflow is `order-<id>`. Every write to these tables
// goes through this store.
import type { Db } from '../db';
import type { OrderStatus } from '../provisioning/contract';

export type OrderState = OrderStatus;

export interface Order {
  /** Saleor's order id, or `free-<uuid>`. */
  orderId: string;
  /** The row's own id (the support list's cursor). */
  rowId: string;
  kind: 'paid' | 'free';
  status: OrderState;
  orgId: string | null;
  buyerEmail: string | null;
  workflowId: string;
  currentStep: string | null;
  lastError: unknown;
  totalCents: number | null;
  currency: string | null;
  createdAt: Date;
  updatedAt: Date;
  provisionedAt: Date | null;
}

interface OrderRow {
  id: string;
  saleor_order_id: string;
  kind: 'paid' | 'free';
  status: OrderState;
  org_id: string | null;
  buyer_email: string | null;
  workflow_id: string;
  current_step: string | null;
  last_error: unknown;
  total_cents: number | null;
  currency: string | null;
  paid_at: Date | null;
  provisioned_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const toOrder = (r: OrderRow): Order => ({
  orderId: r.saleor_order_id, rowId: r.id, kind: r.kind, status: r.status, orgId: r.org_id, buyerEmail: r.buyer_email,
  workflowId: r.workflow_id, currentStep: r.current_step, lastError: r.last_error, totalCents: r.total_cents, currency: r.currency,
  createdAt: r.created_at, updatedAt: r.updated_at, provisionedAt: r.provisioned_at,
});

export interface OrderSearch {
  statuses?: readonly string[];
  /** Part of the order id or buyer email, or the whole org id. */
  term?: string;
  /** After this (created_at, row id), newest first. */
  after?: { createdAt: string; rowId: string } | null;
  limit: number;
}

export interface OrderStore {
  /** A paid order announced by Saleor's webhook: recorded once, whatever the deliveries. */
  receivePaid(orderId: string, workflowId: string): Promise<void>;
  /** A free subscription's order, before its workflow starts. */
  createFree(input: { orderId: string; orgId: string; workflowId: string; currency: string }): Promise<void>;
  /** What the workflow learnt of the order (its organization, buyer, total); idempotent. */
  record(input: { orderId: string; kind: 'paid' | 'free'; orgId: string; email: string | null; workflowId: string; totalCents: number; currency: string }): Promise<void>;
  /** Returns when the order was paid (null for a free order, or an order not recorded). */
  setState(input: { orderId: string; status: OrderState; step: string | null; error: unknown }): Promise<{ paidAt: Date | null }>;
  get(orderId: string): Promise<Order | null>;
  listForOrg(orgId: string, limit: number): Promise<Order[]>;
  search(query: OrderSearch): Promise<Order[]>;
  countByStatus(): Promise<Record<string, number>>;
  /** Of these order ids, the ones recorded. */
  known(orderIds: string[]): Promise<Set<string>>;
}

export class KnexOrderStore implements OrderStore {
  constructor(private readonly db: Db) {}

  async receivePaid(orderId: string, workflowId: string): Promise<void> {
    await this.db('orders')
      .insert({ saleor_order_id: orderId, kind: 'paid', status: 'received', workflow_id: workflowId, paid_at: this.db.fn.now() })
      .onConflict('saleor_order_id')
      .ignore();
  }

  async createFree(input: { orderId: string; orgId: string; workflowId: string; currency: string }): Promise<void> {
    await this.db('orders').insert({
      saleor_order_id: input.orderId, kind: 'free', org_id: input.orgId, status: 'received', workflow_id: input.workflowId, total_cents: 0, currency: input.currency,
    });
  }

  async record(input: { orderId: string; kind: 'paid' | 'free'; orgId: string; email: string | null; workflowId: string; totalCents: number; currency: string }): Promise<void> {
    const { db } = this;
    await db('orders')
      .insert({
        saleor_order_id: input.orderId, kind: input.kind, org_id: input.orgId, buyer_email: input.email, workflow_id: input.workflowId,
        total_cents: input.totalCents, currency: input.currency, status: 'received', paid_at: input.kind === 'paid' ? db.fn.now() : null,
      })
      .onConflict('saleor_order_id')
      .merge({ org_id: input.orgId, buyer_email: input.email, total_cents: input.totalCents, currency: input.currency, updated_at: db.fn.now() });
  }

  async setState(input: { orderId: string; status: OrderState; step: string | null; error: unknown }): Promise<{ paidAt: Date | null }> {
    const { db } = this;
    const [updated] = await db('orders')
      .where('saleor_order_id', input.orderId)
      .update({
        status: input.status, current_step: input.step, last_error: input.error ? JSON.stringify(input.error) : null, updated_at: db.fn.now(),
        ...(input.status === 'fulfilled' ? { provisioned_at: db.fn.now() } : {}),
      }, ['paid_at']);
    return { paidAt: updated?.paid_at ?? null };
  }

  async get(orderId: string): Promise<Order | null> {
    const row = await this.db<OrderRow>('orders').where('saleor_order_id', orderId).first();
    return row ? toOrder(row) : null;
  }

  async listForOrg(orgId: string, limit: number): Promise<Order[]> {
    return (await this.db<OrderRow>('orders').where('org_id', orgId).orderBy('created_at', 'desc').limit(limit)).map(toOrder);
  }

  async search(query: OrderSearch): Promise<Order[]> {
    const rows = await this.db<OrderRow>('orders')
      .modify((q) => {
        if (query.statuses) q.whereIn('status', query.statuses);
        const term = query.term;
        if (term) q.where((w) => w.where('saleor_order_id', 'ilike', `%${term}%`).orWhere('buyer_email', 'ilike', `%${term}%`).orWhereRaw('org_id::text = ?', [term]));
        if (query.after) q.whereRaw('(created_at, id) < (?::timestamptz, ?::uuid)', [query.after.createdAt, query.after.rowId]);
      })
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .limit(query.limit);
    return rows.map(toOrder);
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.db('orders').select('status').count('* as n').groupBy('status');
    return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
  }

  async known(orderIds: string[]): Promise<Set<string>> {
    if (orderIds.length === 0) return new Set();
    return new Set(await this.db('orders').whereIn('saleor_order_id', orderIds).pluck('saleor_order_id'));
  }
}

/** Received webhooks: the deduplication key decides whether a delivery is new. */
export interface WebhookEventStore {
  /** Records a delivery; a duplicate only counts. */
  recordDelivery(input: { source: string; eventType: string; dedupeKey: string; subjectId: string; payload: string }): Promise<void>;
  /** The payload of the first delivery about this subject (an order id), if any. */
  payloadFor(subjectId: string): Promise<unknown>;
}

export class KnexWebhookEventStore implements WebhookEventStore {
  constructor(private readonly db: Db) {}

  async recordDelivery(input: { source: string; eventType: string; dedupeKey: string; subjectId: string; payload: string }): Promise<void> {
    await this.db('webhook_events')
      .insert({ source: input.source, event_type: input.eventType, dedupe_key: input.dedupeKey, subject_id: input.subjectId, payload: input.payload })
      .onConflict(['source', 'dedupe_key'])
      .merge({ deliveries: this.db.raw('webhook_events.deliveries + 1') });
  }

  async payloadFor(subjectId: string): Promise<unknown> {
    const row = await this.db('webhook_events').where('subject_id', subjectId).orderBy('received_at').first('payload');
    return row?.payload ?? null;
  }
}
