// Buying and subscribing: Saleor checkout for paid plans and credit packs, the
// ORDER_FULLY_PAID webhook intake, free one-click subscriptions, unsubscribe,
// and the order page's live progress. Provisioning itself always runs in the
// purchaseToProvision workflow, never inline.
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { Router, raw, type Request, type RequestHandler } from 'express';
import type { CatalogStore } from '../../core/catalog/store';
import { AppError, conflict, notFound, validation } from '../../core/errors';
import type { InstanceStore } from '../../core/instances/store';
import type { Logger } from '../../core/logger';
import type { Order, OrderStore, WebhookEventStore } from '../../core/orders/store';
import { recordWebhookDelivery } from '../../core/metrics/business';
import type { SaleorClient } from '../../core/saleor/client';
import { SALEOR_EVENTS, SALEOR_METADATA_KEYS } from '../../core/saleor/contract';
import { SaleorWebhookError, type SaleorWebhookVerifier } from '../../core/saleor/webhook-signature';
import { instanceSecretPath } from '../../core/secrets';
import type { TenancyStore } from '../../core/tenancy/store';
import {
  deprovisionWorkflowId, orderWorkflowId, progressQuery, type OrderInput, type OrderProgress,
} from '../../core/provisioning/contract';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { orgOf, requireRoleIn } from '../org-context';
import { uuid } from '../schemas';

export interface OrderRouteDeps {
  api: ApiDefinition;
  /** The provisioning task queue (tests give each file its own). */
  taskQueue: string;
  orders: OrderStore;
  webhookEvents: WebhookEventStore;
  temporal: Client;
  catalog: CatalogStore;
  instances: InstanceStore;
  tenancy: TenancyStore;
  saleor: SaleorClient;
  webhookVerifier: SaleorWebhookVerifier;
  logger: Logger;
  requireUser: RequestHandler;
  idempotency: RequestHandler;
}

export const orderSchema = z
  .object({
    order_id: z.string(),
    kind: z.enum(['paid', 'free']),
    status: z.string(),
    org_id: uuid.nullable(),
    workflow_id: z.string(),
    current_step: z.string().nullable(),
    last_error: z.unknown().nullable(),
    total_cents: z.number().int().nullable(),
    currency: z.string().nullable(),
    created_at: z.string(),
    provisioned_at: z.string().nullable(),
    instances: z.array(z.object({ id: uuid, status: z.string(), offering_slug: z.string(), plan_code: z.string() })),
    progress: z.unknown().nullable().describe('Live progress from the workflow (steps, current step, attempts, last error)'),
  })
  .openapi('Order');

/** An order as the API shows it, without its live progress. */
export const orderSummary = (o: Order) => ({
  order_id: o.orderId, kind: o.kind, status: o.status, org_id: o.orgId, workflow_id: o.workflowId, current_step: o.currentStep,
  last_error: o.lastError ?? null, total_cents: o.totalCents, currency: o.currency, created_at: o.createdAt.toISOString(),
  provisioned_at: o.provisionedAt?.toISOString() ?? null,
});

/** Starts (or joins) an order's workflow: the order id is the workflow id, so duplicates land on one run. */
export async function startOrderWorkflow(temporal: Client, taskQueue: string, input: OrderInput): Promise<{ workflowId: string; duplicate: boolean }> {
  const workflowId = orderWorkflowId(input.orderId);
  try {
    const handle = await temporal.workflow.start('purchaseToProvision', {
      workflowId,
      taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
    return { workflowId, duplicate: handle.firstExecutionRunId === undefined };
  } catch (err) {
    // The order's workflow already finished: the delivery is a late duplicate.
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, duplicate: true };
    throw err;
  }
}

export async function orderProgress(temporal: Client, workflowId: string): Promise<OrderProgress | null> {
  try {
    return await temporal.workflow.getHandle(workflowId).query(progressQuery);
  } catch {
    return null;
  }
}

/** The order with its live progress; the unwind report (support's refund options, internal errors) only for support. */
export async function orderView(deps: Pick<OrderRouteDeps, 'temporal' | 'instances'>, order: Order, view: 'buyer' | 'support' = 'buyer') {
  const [instances, live] = await Promise.all([
    deps.instances.byOrder(order.orderId),
    orderProgress(deps.temporal, order.workflowId),
  ]);
  const progress = live && view === 'buyer' ? { ...live, unwind: undefined } : live;
  return {
    ...orderSummary(order), status: progress?.status ?? order.status, current_step: progress?.currentStep ?? order.currentStep,
    last_error: progress?.lastError ?? order.lastError ?? null,
    instances: instances.map((i) => ({ id: i.id, status: i.status, offering_slug: i.offeringSlug, plan_code: i.planCode })),
    progress,
  };
}

/** The Saleor webhook intake; mounted before any JSON parser, since the signature covers the raw bytes. */
export function createSaleorWebhookRouter(deps: Pick<OrderRouteDeps, 'api' | 'orders' | 'webhookEvents' | 'temporal' | 'webhookVerifier' | 'taskQueue'>): Router {
  const { api, temporal } = deps;
  const router = Router();
  router.post('/integrations/saleor/webhooks', raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const delivery = await deps.webhookVerifier.verify<{ order?: { id?: string } }>(body, req.headers).catch((err: unknown) => {
      recordWebhookDelivery('saleor', 'rejected', err instanceof SaleorWebhookError ? err.reason : 'error');
      throw err;
    });
    const orderId = delivery.payload?.order?.id;
    if (delivery.event !== SALEOR_EVENTS.orderFullyPaid || typeof orderId !== 'string' || !/^[\w:=.-]{1,200}$/.test(orderId)) {
      recordWebhookDelivery('saleor', 'rejected', 'no-order-id');
      throw validation('The delivery has no order id');
    }
    await deps.webhookEvents.recordDelivery({
      source: 'saleor', eventType: delivery.event, dedupeKey: `${delivery.event}:${orderId}`, subjectId: orderId, payload: body.toString('utf8'),
    });
    await deps.orders.receivePaid(orderId, orderWorkflowId(orderId));
    const started = await startOrderWorkflow(temporal, deps.taskQueue, { kind: 'paid', orderId });
    recordWebhookDelivery('saleor', started.duplicate ? 'duplicate' : 'accepted');
    req.log.info({ orderId, workflowId: started.workflowId, duplicate: started.duplicate }, 'saleor order_fully_paid accepted');
    res.json({ received: true, workflow_id: started.workflowId, duplicate: started.duplicate });
  });
  api.registry.registerPath({
    method: 'post', path: '/integrations/saleor/webhooks', summary: "Saleor's ORDER_FULLY_PAID webhook (JWS-signed, detached payload)", tags: ['Integrations'],
    security: [{ saleorSignature: [] }], 'x-workspace-role': 'none',
    responses: { 200: { description: 'Accepted (also for a duplicate delivery)' }, 400: { description: 'Malformed delivery' }, 401: { description: 'Bad signature or unknown key' } },
  });

  return router;
}

export function createOrderRouter(deps: OrderRouteDeps): Router {
  const { api, temporal, catalog, orders } = deps;
  const router = Router();

  api.route(router, {
    method: 'post', path: '/v1/checkout', summary: 'Create a Saleor checkout for paid plans and credit packs; pay at payment_url', tags: ['Orders'], auth: 'user', workspaceRole: 'owner',
    use: [deps.requireUser, deps.idempotency], idempotent: true,
    body: z.object({
      items: z.array(z.discriminatedUnion('type', [
        z.object({ type: z.literal('plan'), offering: z.string().max(100), plan: z.string().max(30) }),
        z.object({ type: z.literal('credit_pack'), code: z.string().max(30), quantity: z.number().int().min(1).max(100).default(1) }),
      ])).min(1).max(20),
      return_url: z.string().url().max(2000).optional(),
    }),
    responses: { 201: { description: 'The checkout', schema: z.object({ checkout_id: z.string(), total_cents: z.number().int(), currency: z.string(), payment_url: z.string().nullable() }) } },
  }, async (req, res, { body }) => {
    const orgId = await orgOf(req, deps.tenancy);
    if (!req.user!.email) throw validation('Your account has no email address, which checkout needs');
    const lines: { variantId: string; quantity: number }[] = [];
    for (const item of body.items) {
      if (item.type === 'plan') {
        const offering = await catalog.getBySlug(item.offering);
        const plan = offering.plans.find((p) => p.code === item.plan);
        if (!plan) throw notFound(`Plan ${item.plan} of ${item.offering}`);
        if (plan.priceCents === 0) throw validation(`${plan.name} is free: subscribe with POST /v1/instances`);
        if (!plan.saleorVariantId) throw conflict(`${plan.name} is not purchasable yet (not synced to Saleor)`);
        lines.push({ variantId: plan.saleorVariantId, quantity: 1 });
      } else {
        const pack = (await catalog.listCreditPacks()).find((p) => p.code === item.code);
        if (!pack) throw notFound(`Credit pack ${item.code}`);
        if (!pack.saleorVariantId) throw conflict(`${pack.name} is not purchasable yet (not synced to Saleor)`);
        lines.push({ variantId: pack.saleorVariantId, quantity: item.quantity });
      }
    }
    const checkout = await deps.saleor.createCheckout({ email: req.user!.email, lines, metadata: { [SALEOR_METADATA_KEYS.orgId]: orgId } });
    const payment = await deps.saleor.startPayment(checkout.checkoutId, { idempotencyKey: `checkout:${checkout.checkoutId}` });
    let paymentUrl = payment.paymentUrl;
    if (paymentUrl && body.return_url) {
      const u = new URL(paymentUrl);
      u.searchParams.set('return_url', body.return_url);
      paymentUrl = u.toString();
    }
    res.status(201).json({ checkout_id: checkout.checkoutId, total_cents: checkout.totalCents, currency: checkout.currency, payment_url: paymentUrl });
  });

  api.route(router, {
    method: 'post', path: '/v1/instances', summary: 'Subscribe to an agent on a free plan: provisioning starts at once', tags: ['Instances'], auth: 'user', workspaceRole: 'admin',
    use: [deps.requireUser, deps.idempotency], idempotent: true,
    body: z.object({ offering: z.string().max(100), plan: z.string().max(30).default('free') }),
    responses: { 202: { description: 'Provisioning started', schema: z.object({ instance_id: uuid, order_id: z.string(), workflow_id: z.string(), status: z.string() }) } },
  }, async (req, res, { body }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const offering = await catalog.getBySlug(body.offering);
    const plan = offering.plans.find((p) => p.code === body.plan);
    if (!plan) throw notFound(`Plan ${body.plan} of ${body.offering}`);
    if (plan.priceCents > 0) throw new AppError('validation', 'Paid plan', `${plan.name} costs money: buy it with POST /v1/checkout`, { errors: [{ path: 'plan', message: 'paid plan' }] });
    // Retiring an agent's last published version stops new subscriptions; existing instances keep their version.
    if (!offering.latestVersion) throw conflict(`${offering.name} has no published version to subscribe to right now`);
    const live = await deps.instances.activeFor(orgId, offering.slug);
    if (live) throw conflict(`Your organization already has an active ${offering.name} instance`, { instance_id: live.id });
    const orderId = `free-${randomUUID()}`;
    const instanceId = randomUUID();
    const workflowId = orderWorkflowId(orderId);
    await orders.createFree({ orderId, orgId, workflowId, currency: plan.currency });
    await startOrderWorkflow(temporal, deps.taskQueue, { kind: 'free', orderId, orgId, userId: req.user!.id, planId: plan.id, instanceId });
    res.status(202).json({ instance_id: instanceId, order_id: orderId, workflow_id: workflowId, status: 'provisioning' });
  });

  api.route(router, {
    method: 'delete', path: '/v1/instances/:id', summary: 'Unsubscribe: deprovisioning runs as a workflow', tags: ['Instances'], auth: 'user', workspaceRole: 'admin',
    use: [deps.requireUser, deps.idempotency], idempotent: true,
    params: z.object({ id: z.string().max(64) }),
    responses: { 202: { description: 'Deprovisioning started', schema: z.object({ instance_id: uuid, workflow_id: z.string(), status: z.string() }) } },
  }, async (req, res, { params }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const instance = await deps.instances.get(orgId, params.id);
    const workflowId = deprovisionWorkflowId(instance.id);
    if (instance.status !== 'deprovisioned') {
      await temporal.workflow.start('deprovisionInstance', {
        workflowId, taskQueue: deps.taskQueue, workflowIdConflictPolicy: 'USE_EXISTING', workflowIdReusePolicy: 'REJECT_DUPLICATE',
        args: [{ instanceId: instance.id, secretsPath: instanceSecretPath(orgId, instance.id, 'runtime') }],
      }).catch((err: unknown) => {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      });
    }
    res.status(202).json({ instance_id: instance.id, workflow_id: workflowId, status: instance.status === 'deprovisioned' ? 'deprovisioned' : 'deprovisioning' });
  });

  api.route(router, {
    method: 'get', path: '/v1/orders', summary: "The organization's orders, newest first", tags: ['Orders'], auth: 'user', workspaceRole: 'owner', use: [deps.requireUser],
    responses: { 200: { description: 'Orders', schema: z.object({ items: z.array(orderSchema.omit({ progress: true, instances: true })) }) } },
  }, async (req, res) => {
    const orgId = await orgOf(req, deps.tenancy);
    res.json({ items: (await orders.listForOrg(orgId, 100)).map(orderSummary) });
  });

  api.route(router, {
    method: 'get', path: '/v1/orders/:id', summary: 'One order with live provisioning progress', tags: ['Orders'], auth: 'user', workspaceRole: 'admin', workspaceFrom: 'resource', use: [deps.requireUser],
    params: z.object({ id: z.string().max(200) }),
    responses: { 200: { description: 'The order', schema: orderSchema } },
  }, async (req, res, { params }) => {
    res.json(await orderView(deps, await ownOrder(req, params.id)));
  });

  /** An order of the caller's organizations; a paid order not yet linked to an org is visible to the buyer by email. */
  async function ownOrder(req: Request, orderId: string) {
    const order = await orders.get(orderId);
    if (!order) throw notFound(`Order ${orderId}`);
    if (order.orgId) {
      await requireRoleIn(req, deps.tenancy, order.orgId, `Order ${orderId}`);
    } else if (!order.buyerEmail || order.buyerEmail.toLowerCase() !== req.user!.email?.toLowerCase()) {
      // Just paid: the workflow has not linked it yet. Show it only to the org that checked out.
      const orgs = await deps.tenancy.membershipsOf(req.user!.id);
      const payloadOrg = metadataOrg(await deps.webhookEvents.payloadFor(orderId));
      if (!payloadOrg || !orgs.some((o) => o.orgId === payloadOrg)) throw notFound(`Order ${orderId}`);
    }
    return order;
  }

  return router;
}

function metadataOrg(payload: unknown): string | null {
  const metadata = (payload as { order?: { metadata?: { key: string; value: string }[] } })?.order?.metadata;
  return metadata?.find((m) => m.key === SALEOR_METADATA_KEYS.orgId)?.value ?? null;
}
