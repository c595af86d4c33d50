// Property test: random rounds of concurrent ledger operations (transfers,
// holds, settles, releases, expiries, replays) on two Ledger instances (two
// batchers, as two processes would have), checked against a simple in-memory
// model. Within a round the operations race; the observed outcomes must
// equal those of SOME serial order of the round (the ledger is serializable),
// the balances must equal the model's, and the invariants must hold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AppError } from '../../core/errors';
import { createLedger, type Ledger } from '../../core/ledger';
import type { Db } from '../../core/db';
import { freshDatabase } from '../support/stack';

type Cmd =
  | { type: 'transfer'; id: string; from: number; to: number; amount: number }
  | { type: 'hold'; id: string; from: number; amount: number; short: boolean }
  | { type: 'settle'; id: string; hold: number; amount: number }
  | { type: 'release'; id: string; hold: number }
  | { type: 'expire' };

/** What an operation answered: a transfer's essentials, a count, or an error type. */
type Outcome = string;

// Accounts: 0 = promo (unlimited), 1..3 = wallets (limited), 4 = revenue (unlimited).
const ACCOUNTS = 5;
const limited = (i: number) => i >= 1 && i <= 3;

interface ModelTransfer {
  kind: string;
  debit: number;
  credit: number;
  amount: number;
  pendingId: string | null;
  short: boolean;
}

class Model {
  dp = new Array<number>(ACCOUNTS).fill(0);
  cp = new Array<number>(ACCOUNTS).fill(0);
  dpe = new Array<number>(ACCOUNTS).fill(0);
  cpe = new Array<number>(ACCOUNTS).fill(0);
  transfers = new Map<string, ModelTransfer>();
  resolved = new Map<string, string>();

  clone(): Model {
    const m = new Model();
    m.dp = [...this.dp];
    m.cp = [...this.cp];
    m.dpe = [...this.dpe];
    m.cpe = [...this.cpe];
    m.transfers = new Map(this.transfers);
    m.resolved = new Map(this.resolved);
    return m;
  }

  available(i: number) {
    return this.cp[i]! - this.dp[i]! - this.dpe[i]!;
  }

  apply(c: Cmd, holdIds: string[]): Outcome {
    const describe = (t: ModelTransfer) => `${t.kind}:${t.debit}>${t.credit}:${t.amount}:${t.pendingId ?? ''}`;
    if (c.type === 'expire') {
      let n = 0;
      for (const [id, t] of this.transfers) {
        if (t.kind === 'pending' && t.short && !this.resolved.has(id)) {
          this.resolve(`expire:${id}`, id, 'void_pending', t.amount);
          n += 1;
        }
      }
      return `expired:${n}`;
    }
    if (c.type === 'transfer' || c.type === 'hold') {
      const kind = c.type === 'transfer' ? 'posted' : 'pending';
      const debit = c.from;
      const credit = c.type === 'transfer' ? c.to : 4;
      // Input validation comes before the idempotency lookup.
      if (debit === credit) return 'validation';
      const existing = this.transfers.get(c.id);
      if (existing) {
        return existing.kind === kind && existing.debit === debit && existing.credit === credit && existing.amount === c.amount ? describe(existing) : 'conflict';
      }
      if (limited(debit) && this.available(debit) < c.amount) return 'insufficient-credits';
      if (kind === 'posted') {
        this.dp[debit]! += c.amount;
        this.cp[credit]! += c.amount;
      } else {
        this.dpe[debit]! += c.amount;
        this.cpe[credit]! += c.amount;
      }
      const t = { kind, debit, credit, amount: c.amount, pendingId: null, short: c.type === 'hold' && c.short };
      this.transfers.set(c.id, t);
      return describe(t);
    }
    const pendingId = holdIds[c.hold % holdIds.length]!;
    const kind = c.type === 'settle' ? 'post_pending' : 'void_pending';
    const existing = this.transfers.get(c.id);
    if (existing) {
      const same = existing.kind === kind && existing.pendingId === pendingId && (c.type !== 'settle' || existing.amount === c.amount);
      return same ? describe(existing) : 'conflict';
    }
    const hold = this.transfers.get(pendingId);
    if (!hold) return 'not-found';
    if (this.resolved.has(pendingId)) return 'conflict';
    if (c.type === 'settle' && c.amount > hold.amount) return 'validation';
    return describe(this.resolve(c.id, pendingId, kind, c.type === 'settle' ? c.amount : hold.amount));
  }

  private resolve(id: string, pendingId: string, kind: string, amount: number): ModelTransfer {
    const hold = this.transfers.get(pendingId)!;
    this.dpe[hold.debit]! -= hold.amount;
    this.cpe[hold.credit]! -= hold.amount;
    if (kind === 'post_pending') {
      this.dp[hold.debit]! += amount;
      this.cp[hold.credit]! += amount;
    }
    const t = { kind, debit: hold.debit, credit: hold.credit, amount, pendingId, short: false };
    this.transfers.set(id, t);
    this.resolved.set(pendingId, id);
    return t;
  }
}

function* permutations<T>(items: T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield items;
    return;
  }
  for (let i = 0; i < items.length; i++) {
    const rest = [...items.slice(0, i), ...items.slice(i + 1)];
    for (const p of permutations(rest)) yield [items[i]!, ...p];
  }
}

let db: Db;
let drop: () => Promise<void>;
let ledgers: [Ledger, Ledger];

beforeAll(async () => {
  ({ db, drop } = await freshDatabase());
  ledgers = [createLedger(db), createLedger(db)];
});

afterAll(async () => {
  await drop?.();
});

describe('ledger against an in-memory model', () => {
  it('random concurrent rounds are serializable and match the model', async () => {
    let run = 0;
    const id = fc.integer({ min: 0, max: 11 });
    const amount = fc.integer({ min: 1, max: 600 });
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      { weight: 2, arbitrary: fc.record({ type: fc.constant('transfer' as const), id: id.map((n) => `t${n}`), from: fc.integer({ min: 0, max: 4 }), to: fc.integer({ min: 0, max: 4 }), amount }) },
      { weight: 4, arbitrary: fc.record({ type: fc.constant('hold' as const), id: id.map((n) => `h${n}`), from: fc.integer({ min: 1, max: 3 }), amount, short: fc.boolean() }) },
      { weight: 3, arbitrary: fc.record({ type: fc.constant('settle' as const), id: id.map((n) => `s${n}`), hold: fc.nat(), amount: fc.integer({ min: 0, max: 600 }) }) },
      { weight: 2, arbitrary: fc.record({ type: fc.constant('release' as const), id: id.map((n) => `r${n}`), hold: fc.nat() }) },
      { weight: 1, arbitrary: fc.constant({ type: 'expire' as const }) },
    );
    // A round: 1-4 commands racing, each sent through one of the two instances.
    const round = fc.array(fc.tuple(cmd, fc.integer({ min: 0, max: 1 })), { minLength: 1, maxLength: 4 });

    await fc.assert(
      fc.asyncProperty(fc.array(round, { minLength: 1, maxLength: 12 }), async (rounds) => {
        run += 1;
        const prefix = `p${run}-`;
        const accounts = [
          (await ledgers[0].ensureSystemAccount('promo')).id,
          ...(await Promise.all([1, 2, 3].map((i) => ledgers[0].ensureDemoWallet(`${prefix}w${i}`)))).map((a) => a.id),
          (await ledgers[0].ensureSystemAccount('revenue')).id,
        ];
        // Promo and revenue carry over between runs: compare differences from here.
        const start = await Promise.all(accounts.map((a) => ledgers[0].balance(a)));
        // Give the new wallets a little to spend.
        for (const i of [1, 2, 3]) {
          await ledgers[0].transfer({ id: `${prefix}seed${i}`, debitAccountId: accounts[0]!, creditAccountId: accounts[i]!, amount: 1_000, reason: 'starter_grant' });
        }
        let model = new Model();
        for (const i of [1, 2, 3]) model.cp[i] = 1_000;
        model.dp[0] = 3_000;
        const holdIds = Array.from({ length: 12 }, (_, n) => `${prefix}h${n}`);
        const expiryNow = () => new Date(Date.now() + 30 * 60_000);

        for (const r of rounds) {
          const observed = await Promise.all(r.map(async ([c, via]): Promise<Outcome> => {
            const ledger = ledgers[via]!;
            try {
              switch (c.type) {
                case 'transfer': {
                  const t = await ledger.transfer({ id: prefix + c.id, debitAccountId: accounts[c.from]!, creditAccountId: accounts[c.to]!, amount: c.amount, reason: 'adjustment' });
                  return `${t.kind}:${accounts.indexOf(t.debitAccountId)}>${accounts.indexOf(t.creditAccountId)}:${t.amount}:`;
                }
                case 'hold': {
                  const t = await ledger.hold({ id: prefix + c.id, debitAccountId: accounts[c.from]!, creditAccountId: accounts[4]!, amount: c.amount, reason: 'run', timeoutMs: c.short ? 60_000 : 3_600_000 });
                  return `${t.kind}:${accounts.indexOf(t.debitAccountId)}>${accounts.indexOf(t.creditAccountId)}:${t.amount}:`;
                }
                case 'settle':
                case 'release': {
                  const pendingId = holdIds[c.hold % holdIds.length]!;
                  const t = c.type === 'settle'
                    ? await ledger.settle({ id: prefix + c.id, pendingId, amount: c.amount })
                    : await ledger.release({ id: prefix + c.id, pendingId });
                  return `${t.kind}:${accounts.indexOf(t.debitAccountId)}>${accounts.indexOf(t.creditAccountId)}:${t.amount}:${t.pendingId!.slice(prefix.length)}`;
                }
                case 'expire':
                  return `expired:${await ledger.expire(expiryNow())}`;
              }
            } catch (error) {
              if (error instanceof AppError) return error.type;
              throw error;
            }
          }));

          // Some serial order of the round must give exactly what was observed, and leave exactly the state the
          // database holds: several orders can give the same answers (an expiry racing two new holds voids either
          // one), so the balances, which hold was resolved by what, and each hold's timeout pick among them.
          const balances = await Promise.all(accounts.map((a) => ledgers[0].balance(a)));
          const resolutions = new Map<string, string>(
            (await db('transfers').whereIn('pending_id', holdIds).select('id', 'pending_id'))
              .map((t: { id: string; pending_id: string }) => [t.pending_id.replace(prefix, ''), t.id.replace(prefix, '')]),
          );
          // Two racing holds under one id with other timeouts: whichever committed first is stored, and decides later expiries.
          const shortHolds = new Set<string>(
            (await db('transfers').whereIn('id', holdIds).where('kind', 'pending')
              .whereRaw(`timeout_at - created_at < interval '10 minutes'`).pluck('id'))
              .map((id: string) => id.replace(prefix, '')),
          );
          const sameBalances = (m: Model) => balances.every((b, i) =>
            b.debitsPosted - start[i]!.debitsPosted === m.dp[i] && b.creditsPosted - start[i]!.creditsPosted === m.cp[i]
            && b.debitsPending - start[i]!.debitsPending === m.dpe[i] && b.creditsPending - start[i]!.creditsPending === m.cpe[i])
            && m.resolved.size === resolutions.size && [...m.resolved].every(([hold, by]) => resolutions.get(hold) === by)
            && [...m.transfers].every(([id, t]) => t.kind !== 'pending' || t.short === shortHolds.has(id));
          const modelIds = holdIds.map((h) => h.slice(prefix.length));
          const unprefixed = r.map(([c]) => c);
          let answersOnly: Model | null = null;
          let matched: Model | null = null;
          for (const order of permutations(unprefixed.map((c, i) => ({ c, i })))) {
            const candidate = model.clone();
            const outcomes: Outcome[] = new Array(order.length);
            for (const { c, i } of order) outcomes[i] = candidate.apply(c, modelIds);
            if (!outcomes.every((o, i) => o === observed[i])) continue;
            answersOnly ??= candidate;
            if (sameBalances(candidate)) {
              matched = candidate;
              break;
            }
          }
          if (!answersOnly) throw new Error(`round ${JSON.stringify(unprefixed)} answered ${JSON.stringify(observed)}: no serial order gives that`);
          // No order leaves these balances: compare with the first that gives the answers, account by account.
          model = matched ?? answersOnly;

          balances.forEach((b, i) => {
            expect(b.debitsPosted - start[i]!.debitsPosted, `debits posted of account ${i}`).toBe(model.dp[i]);
            expect(b.creditsPosted - start[i]!.creditsPosted, `credits posted of account ${i}`).toBe(model.cp[i]);
            expect(b.debitsPending - start[i]!.debitsPending, `debits pending of account ${i}`).toBe(model.dpe[i]);
            expect(b.creditsPending - start[i]!.creditsPending, `credits pending of account ${i}`).toBe(model.cpe[i]);
          });
        }
        // Expire what is left so the next run starts with no open short holds.
        await ledgers[0].expire(new Date(Date.now() + 2 * 3_600_000));
        expect((await ledgers[0].checkInvariants()).violations).toEqual([]);
      }),
      { numRuns: 40 },
    );
  }, 240_000);
});
