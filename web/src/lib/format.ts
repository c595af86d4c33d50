// Display formats. The API speaks millicredits (1 credit = 1000 mc) and cents.

const creditFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });

/** 12500 → "12.5" */
export const credits = (mc: number | null | undefined) => creditFormat.format((mc ?? 0) / 1000);

/** Signed, for statements: +100, −1.5 */
export const signedCredits = (mc: number) => `${mc > 0 ? '+' : mc < 0 ? '−' : ''}${credits(Math.abs(mc))}`;

/** An amount in the currency's minor units (cents for USD, yen for JPY), as the API counts money. */
export function money(cents: number, currency = 'USD'): string {
  const f = new Intl.NumberFormat('en-US', { style: 'currency', currency });
  return f.format(cents / 10 ** (f.resolvedOptions().maximumFractionDigits ?? 2));
}

export const count = (n: number) => new Intl.NumberFormat('en-US').format(n);

export function date(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleDateString('en-US', { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return new Date(iso).toLocaleString('en-US', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZone: 'UTC' }) + ' UTC';
}

/** A plan's price line: "Free", "$19.90 / month". */
export const planPrice = (p: { price_cents: number; currency: string }) => (p.price_cents === 0 ? 'Free' : `${money(p.price_cents, p.currency)} / month`);

/** Order and instance states, in words. */
export const statusLabel = (s: string) =>
  ({
    received: 'Received', provisioning: 'Provisioning', needs_attention: 'Needs attention', fulfilled: 'Active', active: 'Active', failed: 'Failed',
    cancelled: 'Cancelled', cancelling: 'Cancelling', pending: 'Pending', deprovisioning: 'Removing', deprovisioned: 'Removed',
  })[s] ?? s.replace(/_/g, ' ');

export const statusTone = (s: string) =>
  ['active', 'fulfilled', 'succeeded'].includes(s) ? 'ok' : ['needs_attention', 'failed', 'cancelled'].includes(s) ? 'bad' : ['deprovisioned', 'deprovisioning'].includes(s) ? 'muted' : 'busy';

/** Tone of a catalog status (offering, version, plan) or of a version's checks. */
export const catalogTone = (s: string | null) =>
  s === 'published' || s === 'passed' || s === 'succeeded' ? 'ok' : s === 'failed' ? 'bad' : s === 'retired' || s === null ? 'muted' : 'busy';
