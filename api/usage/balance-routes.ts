// GET /v1/balance: what an API key's organization has to spend. Keys need the
// `usage:read` scope (signed-in users read the same through GET /v1/wallet).
import { Router, type RequestHandler } from 'express';
import type { Ledger } from '../../core/ledger/types';
import type { ApiDefinition } from '../openapi';
import { balanceSchema } from '../schemas';
import { walletView } from '../wallets/routes';

export interface BalanceRouteDeps {
  api: ApiDefinition;
  ledger: Ledger;
  requireUsageKey: RequestHandler;
}

export function createBalanceRouter(deps: BalanceRouteDeps): Router {
  const router = Router();
  deps.api.route(router, {
    method: 'get', path: '/v1/balance', summary: "The key's organization: available credits and credits on hold (needs the usage:read scope)", tags: ['Usage'],
    auth: 'apiKey', workspaceRole: 'member', use: [deps.requireUsageKey],
    responses: {
      200: { description: 'Balance', schema: balanceSchema },
      403: { description: 'The key lacks the usage:read scope' },
    },
  }, async (req, res) => {
    const orgId = req.apiKey!.orgId;
    const wallet = await deps.ledger.ensureWallet(orgId);
    res.json(await walletView(deps.ledger, { id: wallet.id, org_id: orgId }));
  });
  return router;
}
