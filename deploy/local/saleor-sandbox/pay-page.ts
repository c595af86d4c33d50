// The Saleor sandbox's pay page: what a payment app's hosted page would show
// (lines, total, Pay / Decline). Plain HTML, escaped; no scripts.

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const formatMoney = (cents: number, currency: string) => `${(cents / 100).toFixed(2)} ${currency}`;

const STYLE = `
  body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
  .banner { background: #fff3cd; border: 1px solid #e0c060; padding: .5rem .75rem; border-radius: 6px; font-weight: 600; }
  table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
  td, th { padding: .4rem; border-bottom: 1px solid #ddd; text-align: left; }
  td.num, th.num { text-align: right; }
  .total { font-size: 1.2rem; font-weight: 700; }
  button { font-size: 1rem; padding: .6rem 1.4rem; margin-right: .5rem; border-radius: 6px; border: 1px solid #333; cursor: pointer; }
  button.pay { background: #1f6feb; color: white; border-color: #1f6feb; }
`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · Saleor sandbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body><p class="banner" role="note">Saleor sandbox — local stand-in, not Saleor. No real money moves.</p>
${body}
</body></html>`;
}

export interface PayPageModel {
  checkoutId: string;
  email: string | null;
  currency: string;
  totalCents: number;
  lines: { name: string; quantity: number; unitPriceCents: number }[];
  returnUrl: string | null;
  paidOrderNumber: number | null;
}

export function renderPayPage(m: PayPageModel): string {
  const rows = m.lines
    .map(
      (l) =>
        `<tr><td>${escapeHtml(l.name)}</td><td class="num">${l.quantity}</td><td class="num">${formatMoney(l.unitPriceCents, m.currency)}</td><td class="num">${formatMoney(l.unitPriceCents * l.quantity, m.currency)}</td></tr>`,
    )
    .join('\n');
  const action = `/checkout/${encodeURIComponent(m.checkoutId)}/pay`;
  const hiddenReturn = m.returnUrl ? `<input type="hidden" name="return_url" value="${escapeHtml(m.returnUrl)}">` : '';
  const controls =
    m.paidOrderNumber !== null
      ? `<p><strong>Already paid</strong>: order #${m.paidOrderNumber}.</p>`
      : `<form method="post" action="${escapeHtml(action)}">${hiddenReturn}
  <button class="pay" type="submit" name="action" value="pay">Pay ${formatMoney(m.totalCents, m.currency)}</button>
  <button type="submit" name="action" value="decline">Decline</button>
</form>`;
  return layout(
    'Pay',
    `<h1>Checkout</h1>
<p>For ${escapeHtml(m.email ?? 'unknown buyer')}</p>
<table><thead><tr><th>Item</th><th class="num">Qty</th><th class="num">Unit</th><th class="num">Amount</th></tr></thead>
<tbody>${rows}</tbody></table>
<p class="total">Total: ${formatMoney(m.totalCents, m.currency)}</p>
${controls}`,
  );
}

export function renderMessagePage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}
