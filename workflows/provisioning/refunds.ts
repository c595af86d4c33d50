// The refund arithmetic of a cancel that could not take everything back.
// Exact: money in the currency's minor units (integers, as Saleor counts
// them), credits in millicredits, products in BigInt so no amount is rounded
// on the way. A share is rounded down to a minor unit: a refund never pays for
// more than was taken back.
import type { UnwindLine } from '../../core/provisioning/contract';

/** totalMinor × partMc ÷ wholeMc, rounded down. */
export function shareOf(totalMinor: number, partMc: number, wholeMc: number): number {
  if (wholeMc <= 0 || partMc <= 0 || totalMinor <= 0) return 0;
  if (partMc >= wholeMc) return totalMinor;
  return Number((BigInt(totalMinor) * BigInt(partMc)) / BigInt(wholeMc));
}

/**
 * What "refund the unspent part" pays for each line: a line taken back whole is refunded whole; a credit
 * pack in the share of its credits taken back (`takenBackMc`, else what is unspent now); anything else
 * that could not be taken back, nothing.
 */
export function unspentRefundMinor(lines: (UnwindLine & { takenBackMc?: number })[], dueMinor: number): number {
  let sum = 0;
  for (const l of lines) {
    if (l.takenBack) sum += l.totalMinor;
    else if (l.kind === 'credit_pack' && l.grantedMc) sum += shareOf(l.totalMinor, l.takenBackMc ?? l.unspentMc ?? 0, l.grantedMc);
  }
  return Math.min(sum, Math.max(0, dueMinor));
}
