// The ledger's public contract. All money in CMP moves through these
// operations; amounts are integer millicredits (1 credit = 1000).

export const ACCOUNT_KINDS = ['wallet', 'demo_wallet', 'revenue', 'promo', 'purchases', 'refunds', 'demo_funding', 'adjustments'] as const;
export type AccountKind = (typeof ACCOUNT_KINDS)[number];
/** Counterparties that may go negative or positive freely (no balance limit). */
export type SystemAccountKind = Exclude<AccountKind, 'wallet' | 'demo_wallet'>;

export type TransferKind = 'posted' | 'pending' | 'post_pending' | 'void_pending';

/** Reason codes used across CMP; any lower_snake code is accepted. */
export const REASONS = {
  starterGrant: 'starter_grant',
  creditPack: 'credit_pack',
  monthlyAllowance: 'monthly_allowance',
  run: 'run',
  demoRun: 'demo_run',
  settle: 'settle',
  release: 'release',
  expired: 'expired',
  adjustment: 'adjustment',
  refund: 'refund',
} as const;

export interface Account {
  id: string;
  code: string;
  orgId: string | null;
  kind: AccountKind;
  debitsMustNotExceedCredits: boolean;
  createdAt: Date;
}

export interface Balance {
  creditsPosted: number;
  debitsPosted: number;
  creditsPending: number;
  debitsPending: number;
  /** credits_posted − debits_posted − debits_pending */
  available: number;
}

export interface Transfer {
  id: string;
  kind: TransferKind;
  debitAccountId: string;
  creditAccountId: string;
  /** For post_pending the settled amount; for void_pending the released hold. */
  amount: number;
  pendingId: string | null;
  timeoutAt: Date | null;
  reason: string;
  runId: string | null;
  orderId: string | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
}

interface Refs {
  reason: string;
  runId?: string;
  orderId?: string;
  metadata?: Record<string, unknown>;
}

export interface TransferInput extends Refs {
  /** Idempotency key: the same id with the same parameters returns the first result. */
  id: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: number;
}

export interface HoldInput extends TransferInput {
  /** After this the hold is voided by the expiry sweep and can no longer be settled. */
  timeoutMs: number;
}

export interface SettleInput extends Partial<Refs> {
  id: string;
  pendingId: string;
  /** ≤ the hold's amount; the rest is released. 0 releases it all. */
  amount: number;
}

export interface ReleaseInput extends Partial<Refs> {
  id: string;
  pendingId: string;
}

export interface StatementEntry {
  transferId: string;
  seq: number;
  kind: TransferKind;
  side: 'debit' | 'credit';
  /**
   * Signed effect on this account's available balance: a debit or a hold is
   * negative, a credit positive, a settle gives back the unused part of its
   * hold, a void gives back the hold (on the debited side). Summing every
   * entry of an account gives its available balance.
   */
  amount: number;
  /** The transfer's own (unsigned) amount. */
  transferAmount: number;
  counterpartyAccountId: string;
  pendingId: string | null;
  timeoutAt: Date | null;
  reason: string;
  runId: string | null;
  orderId: string | null;
  metadata: Record<string, unknown>;
  createdAt: Date;
}

export interface Statement {
  entries: StatementEntry[];
  /** Pass back to get the next (older) page; null at the end. */
  nextCursor: string | null;
}

export interface Ledger {
  /** A posted transfer (grants, purchases, adjustments). */
  transfer(input: TransferInput): Promise<Transfer>;
  /** A pending transfer that reserves funds until settled, released or expired. */
  hold(input: HoldInput): Promise<Transfer>;
  /** Posts a hold for amount ≤ its amount; the rest is released. */
  settle(input: SettleInput): Promise<Transfer>;
  /** Voids a hold. */
  release(input: ReleaseInput): Promise<Transfer>;
  /** Voids every hold whose timeout is before `now`; returns how many. */
  expire(now?: Date): Promise<number>;
  balance(accountId: string): Promise<Balance>;
  statement(accountId: string, opts: { cursor?: string | null; limit: number }): Promise<Statement>;
  getTransfer(id: string): Promise<Transfer | null>;
  /** An organization's wallet by its id; null when no wallet has it. */
  getWallet(id: string): Promise<Account | null>;
  ensureWallet(orgId: string): Promise<Account>;
  /** What a payer's wallet can cover now (0 when it has none yet), from one read by its unique code: a cheap pre-check, never the authority. */
  walletAvailable(payer: { kind: 'org'; orgId: string } | { kind: 'demo'; visitorId: string }): Promise<number>;
  ensureDemoWallet(visitorId: string): Promise<Account>;
  ensureSystemAccount(kind: SystemAccountKind): Promise<Account>;
  checkInvariants(): Promise<{ violations: string[] }>;
}
