// A buyer's workspace with its starter credits, created once: the route that
// signs a user up and the workflow that meets a buyer by email both call this.
import type { Ledger } from '../ledger/types';
import type { TenancyStore, Workspace } from './store';

/** The starter grant's transfer id: one grant per organization, however often onboarding runs. */
export const starterGrantId = (orgId: string) => `starter-grant:${orgId}`;

export interface OnboardingDeps {
  tenancy: TenancyStore;
  ledger: Ledger;
  starterCreditsMc: number;
}

/**
 * The user's workspace (organization, default project, owner membership), its wallet and its starter credits.
 * Every step is idempotent, so a retry after a crash between them completes the rest.
 */
export async function onboardWorkspace(deps: OnboardingDeps, user: { id: string; email: string | null }): Promise<Workspace & { walletId: string }> {
  const ws = await deps.tenancy.ensureWorkspace(user.id, `${user.email?.split('@')[0] ?? 'My'}'s workspace`);
  const wallet = await deps.ledger.ensureWallet(ws.org.id);
  if (deps.starterCreditsMc > 0) {
    const promo = await deps.ledger.ensureSystemAccount('promo');
    await deps.ledger.transfer({
      id: starterGrantId(ws.org.id), debitAccountId: promo.id, creditAccountId: wallet.id,
      amount: deps.starterCreditsMc, reason: 'starter_grant', metadata: { user_id: user.id },
    });
  }
  return { ...ws, walletId: wallet.id };
}
