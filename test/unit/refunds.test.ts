// The refund arithmetic of a cancel support decides: exact in minor units,
// rounded down, and the currency's digits as Saleor counts them.
import { describe, expect, it } from 'vitest';
import { currencyDigits, fromCents, toCents } from '../../core/saleor/client';
import { shareOf, unspentRefundMinor } from '../../workflows/provisioning/refunds';

describe('refund arithmetic', () => {
  it('refunds the share of a line taken back, rounded down to a minor unit', () => {
    expect(shareOf(990, 700_000, 1_000_000)).toBe(693);
    expect(shareOf(999, 1, 3)).toBe(333);
    expect(shareOf(1000, 0, 1_000_000)).toBe(0);
    expect(shareOf(1000, 1_000_000, 1_000_000)).toBe(1000);
    // Past 2^53 in the product: still exact (a float would give 9007199254740990 here).
    expect(shareOf(9_007_199_254_740_991, 999_999, 1_000_000)).toBe(9_007_190_247_541_736);
  });

  it('adds whole lines taken back, the unspent share of credit packs, nothing for a line that could not be taken back, capped at what is due', () => {
    const lines = [
      { line: 0, kind: 'credit_pack' as const, totalMinor: 990, grantedMc: 1_000_000, unspentMc: 700_000, takenBack: false },
      { line: 1, kind: 'plan' as const, totalMinor: 4990, takenBack: true },
      { line: 2, kind: 'plan' as const, totalMinor: 1990, takenBack: false },
    ];
    expect(unspentRefundMinor(lines, 7970)).toBe(693 + 4990);
    expect(unspentRefundMinor(lines.map((l) => ({ ...l, takenBackMc: l.line === 0 ? 500_000 : undefined })), 7970)).toBe(495 + 4990);
    expect(unspentRefundMinor(lines, 1000)).toBe(1000);
  });

  it("counts money in the currency's minor units, as Saleor quantizes it", () => {
    expect([currencyDigits('USD'), currencyDigits('JPY'), currencyDigits('KWD')]).toEqual([2, 0, 3]);
    expect([toCents(19.99, 'USD'), toCents(1500, 'JPY'), toCents(1.234, 'KWD')]).toEqual([1999, 1500, 1234]);
    expect([fromCents(1990, 'USD'), fromCents(1500, 'JPY'), fromCents(1234, 'KWD')]).toEqual([19.9, 1500, 1.234]);
  });
});
