// The support console's API (support role): find stuck and failed orders, see
// the failing step, its error and attempts, retry or cancel-and-refund with a
// required reason, adjust credits; every action is audited.
import { Router, type RequestHandler } from 'express';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { WorkflowNotFoundError, type UpdateDefinition } from '@temporalio/common';
import type { AuditLog } from '../../core/audit';
import { AppError, notFound } from '../../core/errors';
import type { InstanceStore } from '../../core/instances/store';
import type { Ledger } from '../../core/ledger';
import type { OrderStore } from '../../core/orders/store';
import { cancelAndRefundUpdate, decideRefundUpdate, REFUND_DECISIONS, retryUpdate } from '../../core/provisioning/contract';
import { decodeCursor, encodeCursor } from '../cursor';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { orderSchema, orderSummary, orderView } from '../orders/routes';
import { uuid } from '../schemas';

export interface SupportRouteDeps {
  api: ApiDefinition;
  orders: OrderStore;
  temporal: Client;
  ledger: Ledger;
  instances: InstanceStore;
  audit: AuditLog;
  temporalUiUrl: string;
  namespace: string;
  requireUser: RequestHandler;
  requireSupport: RequestHandler;
  idempotency: RequestHandler;
}

const FILTERS: Record<string, string[]> = {
  needs_attention: ['needs_attention'],
  provisioning: ['received', 'provisioning', 'cancelling'],
  failed: ['failed', 'cancelled'],
  done: ['fulfilled'],
};

/** How long an action waits for the workflow's answer; a worker that is down answers nothing. */
const UPDATE_DEADLINE_MS = 15_000;

const reasonBody = z.object({ reason: z.string().trim().min(3, 'say why (at least 3 characters)').max(500) });

export function createSupportRouter(deps: SupportRouteDeps): Router {
  const { api, orders, temporal } = deps;
  const router = Router();
  const tags = ['Support'];
  const guard = [deps.requireUser, deps.requireSupport];
  const uiLink = (workflowId: string) => `${deps.temporalUiUrl}/namespaces/${deps.namespace}/workflows/${encodeURIComponent(workflowId)}`;

  api.route(router, {
    method: 'get', path: '/v1/support/orders', summary: 'Orders by state (needs_attention, provisioning, failed, done), newest first', tags, auth: 'user', workspaceRole: null, use: guard,
    query: z.object({
      filter: z.enum(['all', 'needs_attention', 'provisioning', 'failed', 'done']).default('all'),
      q: z.string().max(200).optional(),
      limit: z.coerce.number().int().min(1).max(100).default(50),
      cursor: z.string().max(200).optional(),
    }),
    responses: { 200: { description: 'Orders', schema: z.object({ items: z.array(z.record(z.string(), z.unknown())), next_cursor: z.string().nullable(), counts: z.record(z.string(), z.number()) }) } },
  }, async (_req, res, { query }) => {
    const after = decodeCursor<{ t: string; id: string }>(query.cursor, ['t', 'id']);
    const rows = await orders.search({
      statuses: query.filter === 'all' ? undefined : FILTERS[query.filter]!, term: query.q,
      after: after ? { createdAt: after.t, rowId: after.id } : null, limit: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    res.json({
      items: page.map((o) => ({
        ...orderSummary(o), buyer_email: o.buyerEmail, temporal_url: uiLink(o.workflowId), updated_at: o.updatedAt.toISOString(),
      })),
      next_cursor: rows.length > query.limit ? encodeCursor({ t: page.at(-1)!.createdAt.toISOString(), id: page.at(-1)!.rowId }) : null,
      counts: await orders.countByStatus(),
    });
  });

  async function orderRow(orderId: string) {
    const order = await orders.get(orderId);
    if (!order) throw notFound(`Order ${orderId}`);
    return order;
  }

  /**
   * Runs a support action as the workflow's Update and answers what the workflow said: accepted, refused by its
   * validator (409: it would not act on it now), or not reachable (503: Temporal or the workers are down).
   */
  async function act<Ret, Arg>(workflowId: string, update: UpdateDefinition<Ret, [Arg]>, arg: Arg): Promise<Ret> {
    try {
      return await temporal.withDeadline(Date.now() + UPDATE_DEADLINE_MS, () => temporal.workflow.getHandle(workflowId).executeUpdate(update, { args: [arg] }));
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new AppError('conflict', 'Not possible now', (err.cause as Error | undefined)?.message ?? err.message);
      if (err instanceof WorkflowNotFoundError) throw new AppError('conflict', 'Not possible now', "The order's workflow has ended");
      throw new AppError('service-unavailable', 'Workflow unavailable', `The order's workflow did not answer in time (${(err as Error).message}); look at the order before trying again`);
    }
  }

  api.route(router, {
    method: 'get', path: '/v1/support/orders/:id', summary: "An order's step timeline, failing step and attempts, audit trail and Temporal link", tags, auth: 'user', workspaceRole: null, use: guard,
    params: z.object({ id: z.string().max(200) }),
    responses: { 200: { description: 'The order', schema: orderSchema.extend({ temporal_url: z.string(), pending_activities: z.array(z.unknown()), audit: z.array(z.unknown()) }) } },
  }, async (_req, res, { params }) => {
    const row = await orderRow(params.id);
    const [view, pending, audit] = await Promise.all([
      orderView(deps, row, 'support'),
      temporal.workflow.getHandle(row.workflowId).describe().then(
        (d) => (d.raw.pendingActivities ?? []).map((a) => ({
          activity: a.activityType?.name, attempt: a.attempt, state: a.state, last_failure: a.lastFailure?.message ?? null,
          next_attempt_at: a.nextAttemptScheduleTime?.seconds ? new Date(Number(a.nextAttemptScheduleTime.seconds) * 1000).toISOString() : null,
        })),
        () => [],
      ),
      deps.audit.list({ targetType: 'order', targetId: params.id, limit: 50 }),
    ]);
    res.json({ ...view, temporal_url: uiLink(row.workflowId), pending_activities: pending, audit });
  });

  const unavailable = { description: "The order's workflow did not answer in time (Temporal or its workers are down); not audited: look at the order before trying again" };

  for (const [action, update] of [['retry', retryUpdate], ['cancel', cancelAndRefundUpdate]] as const) {
    api.route(router, {
      method: 'post', path: `/v1/support/orders/:id/${action}`,
      summary: action === 'retry'
        ? 'Retry the failing step (or the failed compensations) now; 409 when nothing waits for a retry'
        : 'Cancel: undo what was provisioned (newest first) and refund in Saleor; 409 when the order cannot be cancelled now',
      tags, auth: 'user', workspaceRole: null, use: [...guard, deps.idempotency], idempotent: true,
      params: z.object({ id: z.string().max(200) }),
      body: reasonBody,
      responses: { 202: { description: 'Accepted by the workflow', schema: z.object({ order_id: z.string(), action: z.string(), workflow_id: z.string() }) }, 503: unavailable },
    }, async (req, res, { params, body }) => {
      const row = await orderRow(params.id);
      const actor = `user:${req.user!.id}`;
      // Audited only once the workflow accepted the action.
      await act(row.workflowId, update, { actor: req.user!.email ?? actor, reason: body.reason });
      await deps.audit.record({ orgId: row.orgId, actor, action: `order.${action}`, targetType: 'order', targetId: params.id, reason: body.reason });
      res.status(202).json({ order_id: params.id, action, workflow_id: row.workflowId });
    });
  }

  api.route(router, {
    method: 'post', path: '/v1/support/orders/:id/refund-decision',
    summary: "Decide the refund of a cancel whose compensation failed: refund the unspent part, refund all (spent credits booked as an audited adjustment), or keep it (no refund)",
    tags, auth: 'user', workspaceRole: null, use: [...guard, deps.idempotency], idempotent: true,
    params: z.object({ id: z.string().max(200) }),
    body: reasonBody.extend({ decision: z.enum(REFUND_DECISIONS) }),
    responses: {
      202: {
        description: 'Accepted by the workflow; the order ends cancelled with the actual refund in its progress (progress.refund)',
        schema: z.object({
          order_id: z.string(), decision: z.enum(REFUND_DECISIONS),
          estimated_refund_minor: z.number().int().describe("The refund the report the decision applies to estimates; the order's progress.refund has the actual figure"),
          currency: z.string(), workflow_id: z.string(),
        }),
      },
      503: unavailable,
    },
  }, async (req, res, { params, body }) => {
    const row = await orderRow(params.id);
    const actor = `user:${req.user!.id}`;
    // The workflow accepts one decision, only while it waits for one, and answers the report it applies to;
    // a second decision (even at the same moment) is refused and neither answered 202 nor audited.
    const unwind = await act(row.workflowId, decideRefundUpdate, { actor: req.user!.email ?? actor, reason: body.reason, decision: body.decision });
    const estimated = body.decision === 'refund_all' ? unwind.refundAllMinor : body.decision === 'refund_unspent' ? unwind.refundUnspentMinor : 0;
    await deps.audit.record({
      orgId: row.orgId, actor, action: 'order.refund_decision', targetType: 'order', targetId: params.id, reason: body.reason,
      data: { decision: body.decision, estimated_refund_minor: estimated, currency: unwind.currency, failed: unwind.failed.map((f) => f.compensation), lines: unwind.lines },
    });
    res.status(202).json({ order_id: params.id, decision: body.decision, estimated_refund_minor: estimated, currency: unwind.currency, workflow_id: row.workflowId });
  });

  api.route(router, {
    method: 'post', path: '/v1/support/wallets/:id/adjustments', summary: 'Credit or debit a wallet with a reason (audited)', tags, auth: 'user', workspaceRole: null,
    use: [...guard, deps.idempotency], idempotent: true,
    params: z.object({ id: uuid }),
    body: reasonBody.extend({ amount_mc: z.number().int().min(-1e12).max(1e12).refine((n) => n !== 0, 'must not be 0') }),
    responses: { 201: { description: 'The adjustment', schema: z.object({ transfer_id: z.string(), amount_mc: z.number().int(), available_mc: z.number().int() }) } },
  }, async (req, res, { params, body }) => {
    const wallet = await deps.ledger.getWallet(params.id);
    if (!wallet) throw notFound(`Wallet ${params.id}`);
    const adjustments = await deps.ledger.ensureSystemAccount('adjustments');
    // The Idempotency-Key (or a fresh id) names the transfer, so a replay cannot adjust twice.
    const id = `adjust:${wallet.id}:${req.header('Idempotency-Key') ?? crypto.randomUUID()}`;
    const credit = body.amount_mc > 0;
    const t = await deps.ledger.transfer({
      id, debitAccountId: credit ? adjustments.id : wallet.id, creditAccountId: credit ? wallet.id : adjustments.id,
      amount: Math.abs(body.amount_mc), reason: 'adjustment', metadata: { by: req.user!.id, note: body.reason },
    });
    await deps.audit.record({ orgId: wallet.orgId, actor: `user:${req.user!.id}`, action: 'wallet.adjust', targetType: 'wallet', targetId: wallet.id, reason: body.reason, data: { amount_mc: body.amount_mc, transfer_id: t.id } });
    res.status(201).json({ transfer_id: t.id, amount_mc: body.amount_mc, available_mc: (await deps.ledger.balance(wallet.id)).available });
  });

  api.route(router, {
    method: 'get', path: '/v1/support/audit', summary: 'The audit trail, newest first', tags, auth: 'user', workspaceRole: null, use: guard,
    query: z.object({ org_id: uuid.optional(), target_type: z.string().max(40).optional(), target_id: z.string().max(200).optional(), before: z.coerce.number().int().optional(), limit: z.coerce.number().int().min(1).max(200).default(50) }),
    responses: { 200: { description: 'Entries', schema: z.object({ items: z.array(z.unknown()) }) } },
  }, async (_req, res, { query }) => {
    res.json({ items: await deps.audit.list({ orgId: query.org_id, targetType: query.target_type, targetId: query.target_id, beforeId: query.before, limit: query.limit }) });
  });

  return router;
}
