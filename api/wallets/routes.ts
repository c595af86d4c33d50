// Wallets, their statement, and the billing primitives (authorize = hold,
// settle = post ≤ hold or release) for trusted services.
import { Router, type RequestHandler } from 'express';
import { notFound } from '../../core/errors';
import type { Ledger, StatementEntry } from '../../core/ledger/types';
import type { TenancyStore } from '../../core/tenancy/store';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { balanceSchema, statementEntrySchema, uuid } from '../schemas';
import { orgOf, requireRoleIn } from '../org-context';

export interface WalletRouteDeps {
  api: ApiDefinition;
  ledger: Ledger;
  tenancy: TenancyStore;
  requireUser: RequestHandler;
  requireService: RequestHandler;
  idempotency: RequestHandler;
}

const LABELS: Record<string, string> = {
  starter_grant: 'grant', credit_pack: 'purchase', monthly_allowance: 'allowance', adjustment: 'adjustment', refund: 'refund',
};

export function statementLabel(e: Pick<StatementEntry, 'kind' | 'reason'>): string {
  if (e.kind === 'pending') return 'hold';
  if (e.kind === 'post_pending') return 'settlement';
  if (e.kind === 'void_pending') return e.reason === 'expired' ? 'expiry' : 'release';
  return LABELS[e.reason] ?? 'charge';
}

const entryView = (e: StatementEntry) => ({
  transfer_id: e.transferId, kind: e.kind, label: statementLabel(e), amount_mc: e.amount, transfer_amount_mc: e.transferAmount,
  pending_id: e.pendingId, reason: e.reason, run_id: e.runId, order_id: e.orderId, created_at: e.createdAt.toISOString(),
});

/** A wallet's balance as the API answers it (balanceSchema): GET /v1/wallet, /v1/wallets/:id and /v1/balance. */
export async function walletView(ledger: Ledger, account: { id: string; org_id: string }) {
  const b = await ledger.balance(account.id);
  return {
    wallet_id: account.id, org_id: account.org_id, available_mc: b.available, posted_mc: b.creditsPosted - b.debitsPosted,
    held_mc: b.debitsPending, credits: b.available / 1000,
  };
}

export function createWalletRouter(deps: WalletRouteDeps): Router {
  const { api, ledger } = deps;
  const router = Router();
  const tags = ['Wallets'];

  /** The wallet account, if it belongs to an org the caller may see. */
  async function walletFor(req: Parameters<RequestHandler>[0], walletId: string) {
    if (!uuid.safeParse(walletId).success) throw notFound(`Wallet ${walletId}`);
    const wallet = await ledger.getWallet(walletId);
    if (!wallet?.orgId || !req.user) throw notFound(`Wallet ${walletId}`);
    await requireRoleIn(req, deps.tenancy, wallet.orgId, `Wallet ${walletId}`);
    return { id: wallet.id, org_id: wallet.orgId };
  }

  api.route(router, {
    method: 'get', path: '/v1/wallet', summary: "The current organization's wallet (X-Org-Id or your first org)", tags, auth: 'user', workspaceRole: 'member', use: [deps.requireUser],
    responses: { 200: { description: 'Balance', schema: balanceSchema } },
  }, async (req, res) => {
    const orgId = await orgOf(req, deps.tenancy);
    const account = await ledger.ensureWallet(orgId);
    res.json(await walletView(ledger, { id: account.id, org_id: orgId }));
  });

  api.route(router, {
    method: 'get', path: '/v1/wallets/:id', summary: 'A wallet and its balance', tags, auth: 'user', workspaceRole: 'member', workspaceFrom: 'resource', use: [deps.requireUser],
    params: z.object({ id: z.string().max(64) }),
    responses: { 200: { description: 'Balance', schema: balanceSchema } },
  }, async (req, res, { params }) => {
    res.json(await walletView(ledger, await walletFor(req, params.id)));
  });

  api.route(router, {
    method: 'get', path: '/v1/wallets/:id/transfers', summary: 'The statement: grants, purchases, holds, settlements, releases (newest first)', tags, auth: 'user', workspaceRole: 'owner', workspaceFrom: 'resource',
    use: [deps.requireUser],
    params: z.object({ id: z.string().max(64) }),
    query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(200).optional() }),
    responses: { 200: { description: 'A page of the statement', schema: z.object({ items: z.array(statementEntrySchema), next_cursor: z.string().nullable() }) } },
  }, async (req, res, { params, query }) => {
    const account = await walletFor(req, params.id);
    const page = await ledger.statement(account.id, { cursor: query.cursor ?? null, limit: query.limit });
    res.json({ items: page.entries.map(entryView), next_cursor: page.nextCursor });
  });

  const billingTags = ['Billing (services)'];
  api.route(router, {
    method: 'post', path: '/v1/billing/authorize', summary: "Place a hold on an organization's wallet", tags: billingTags, auth: 'service', workspaceRole: null,
    use: [deps.requireUser, deps.requireService, deps.idempotency], idempotent: true,
    body: z.object({
      hold_id: z.string().min(1).max(200),
      org_id: uuid,
      amount_mc: z.number().int().positive().max(1e12),
      timeout_s: z.number().int().min(1).max(86_400).default(300),
      reason: z.string().regex(/^[a-z_]{1,40}$/).default('run'),
      run_id: z.string().max(100).optional(),
    }),
    responses: { 201: { description: 'The hold', schema: z.object({ hold_id: z.string(), amount_mc: z.number().int(), expires_at: z.string().nullable() }) } },
  }, async (_req, res, { body }) => {
    const org = await deps.tenancy.getOrg(body.org_id);
    const wallet = await ledger.ensureWallet(org.id);
    const revenue = await ledger.ensureSystemAccount('revenue');
    const hold = await ledger.hold({
      id: body.hold_id, debitAccountId: wallet.id, creditAccountId: revenue.id, amount: body.amount_mc, timeoutMs: body.timeout_s * 1000,
      reason: body.reason, runId: body.run_id,
    });
    res.status(201).json({ hold_id: hold.id, amount_mc: hold.amount, expires_at: hold.timeoutAt?.toISOString() ?? null });
  });

  api.route(router, {
    method: 'post', path: '/v1/billing/settle', summary: 'Settle a hold for ≤ its amount (the rest is released); 0 releases it', tags: billingTags, auth: 'service', workspaceRole: null,
    use: [deps.requireUser, deps.requireService, deps.idempotency], idempotent: true,
    body: z.object({ settle_id: z.string().min(1).max(200), hold_id: z.string().min(1).max(200), amount_mc: z.number().int().min(0).max(1e12) }),
    responses: { 200: { description: 'The settlement', schema: z.object({ settle_id: z.string(), hold_id: z.string(), amount_mc: z.number().int(), kind: z.string() }) } },
  }, async (_req, res, { body }) => {
    const t = body.amount_mc === 0
      ? await ledger.release({ id: body.settle_id, pendingId: body.hold_id })
      : await ledger.settle({ id: body.settle_id, pendingId: body.hold_id, amount: body.amount_mc });
    res.json({ settle_id: t.id, hold_id: body.hold_id, amount_mc: t.amount, kind: t.kind });
  });

  return router;
}
