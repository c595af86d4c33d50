// A team in a real browser, against the running platform and Keycloak: the
// owner invites a colleague as member; the colleague registers on Keycloak's
// page from the link, lands in the shared workspace and runs an agent, but
// may not create a connector or see the statement; the owner promotes them to
// admin, then removes them, and their key stops working at once.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startWeb, testLayout } from '../../deploy/local/stack';
import type { Service } from '../../deploy/local/processes';
import { startFakeRuntime, type FakeRuntime } from '../support/fake-runtime';
import { loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';
import { DESKTOP, launchChromium, setStoreOrigin, shoot, signInAtProvider, until, watchErrors } from './browser';

const layout = testLayout();
const web = `http://127.0.0.1:${layout.ports.web}`;
let p: TestPlatform;
let store: Service;
let runtime: FakeRuntime | undefined;
let browser: Browser;
let owner: { context: BrowserContext; page: Page; errors: string[] };
let colleague: { context: BrowserContext; page: Page; errors: string[] };
let ownerToken: string;
let orgId: string;
const colleagueEmail = `colleague-${randomBytes(4).toString('hex')}@example.com`;
let link = '';
let colleagueKey = '';

async function openContext() {
  const context = await browser.newContext({ viewport: DESKTOP, baseURL: web });
  const errors = watchErrors(context, web);
  return { context, page: await context.newPage(), errors };
}

beforeAll(async () => {
  if (process.env.CMP_TEST_SKIP_LANGFLOW === '1') runtime = await startFakeRuntime();
  p = await startPlatform({ configOverrides: runtime ? { LANGFLOW_URL: runtime.url } : {} });
  ownerToken = (await loginAs('buyer@cmp.local')).accessToken;
  orgId = (await p.call('POST', '/v1/orgs/auto', { token: ownerToken })).body.org.id;
  // The shared workspace has an agent to run.
  const started = await p.call('POST', '/v1/instances', { token: ownerToken, body: { offering: 'ticket-triage', plan: 'free' } });
  expect(started.status).toBe(202);
  await until('the instance is active', async () => (await p.call('GET', '/v1/instances', { token: ownerToken })).body.items.some((i: { status: string }) => i.status === 'active'), 120_000);
  // A key of the owner's, which an admin sees with its creator.
  await p.call('POST', '/v1/api-keys', { token: ownerToken, body: { name: 'owner key' } });
  store = await startWeb(layout, { apiUrl: p.url });
  browser = await launchChromium();
  setStoreOrigin(web);
  owner = await openContext();
  colleague = await openContext();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await store?.stop();
  await p?.close();
  await runtime?.close();
});

afterEach(() => {
  expect(owner.errors, 'owner console errors').toEqual([]);
  expect(colleague.errors, 'colleague console errors').toEqual([]);
});

it('lets the owner invite a colleague as member from the workspace page', async () => {
  const { page } = owner;
  await page.goto('/auth/login?return_to=/workspace');
  await signInAtProvider(page, 'buyer@cmp.local');
  await page.waitForURL('**/workspace');
  await page.fill('#invite-email', colleagueEmail);
  await page.selectOption('#invite-role', 'member');
  await page.click('#members form[action="?/invite"] button[type=submit]');
  await expect(page.locator('#members .notice.ok').textContent()).resolves.toContain(colleagueEmail);
  // No mail server in the test stack: the page shows the link to share.
  link = (await page.locator(`[data-testid=invitation-row]:has-text("${colleagueEmail}") [data-testid=invitation-link]`).textContent())!;
  expect(link).toMatch(new RegExp(`^${web}/invite/[A-Za-z0-9_-]{43}$`));
  await shoot(page, 'teams-01-invited');
});

it('lets the colleague register through Keycloak from the link and land in the shared workspace', async () => {
  const { page } = colleague;
  await page.goto(link);
  await expect(page.locator('[data-testid=invitation]').getAttribute('data-state')).resolves.toBe('pending');
  expect(await page.locator('h1').textContent()).toContain("buyer's workspace");
  await shoot(page, 'teams-02-invitation');
  await page.click('a:has-text("Create an account and accept")');
  // prompt=create opens Keycloak's registration form at once.
  await page.waitForSelector('#kc-register-form');
  await page.fill('#email', colleagueEmail);
  await page.fill('#firstName', 'Colin');
  await page.fill('#lastName', 'League');
  await page.fill('#password', 'colleague-pass-1');
  await page.fill('#password-confirm', 'colleague-pass-1');
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/invite/')), page.click('#kc-register-form [type=submit]')]);
  await Promise.all([page.waitForURL('**/workspace?joined=1'), page.click('button:has-text("Accept and open the workspace")')]);
  expect(await page.locator('[data-testid=workspace-name]').textContent()).toBe("buyer's workspace");
  expect(await page.locator('[data-testid=workspace-role]').textContent()).toBe('member');
  expect(await page.locator('.notice.ok').textContent()).toContain("You joined buyer's workspace as member");
  // Their own workspace too: the header switches between the two.
  expect(await page.locator('#workspace-switcher option').count()).toBe(2);
  await shoot(page, 'teams-03-joined');
});

it('lets the member run an agent with their own key, but not see the statement or create a connector', async () => {
  const { page } = colleague;
  expect(await page.locator('#statement').count()).toBe(0);
  expect(await page.locator('#credits').count()).toBe(0);
  await page.fill('#key-name', 'colleague key');
  await page.click('#keys form.inline-form button[type=submit]');
  colleagueKey = (await page.locator('#keys [data-testid=api-key-secret]').textContent())!;
  expect(colleagueKey).toMatch(/^cmp_live_/);
  const run = await fetch(`${p.url}/v1/runs`, {
    method: 'POST', headers: { authorization: `Bearer ${colleagueKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ agent: 'ticket-triage', input: 'My invoice was charged twice' }),
  });
  expect(run.status).toBe(200);
  expect(await run.json()).toMatchObject({ status: 'succeeded' });

  // The API behind the page says the same, with the member's own session.
  const token = (await loginAs(colleagueEmail, 'colleague-pass-1')).accessToken;
  const instance = (await p.call('GET', '/v1/instances', { token, headers: { 'X-Org-Id': orgId } })).body.items[0];
  const connector = await p.call('POST', `/v1/instances/${instance.id}/connectors`, { token, headers: { 'X-Org-Id': orgId }, body: { name: 'crm', kind: 'http' } });
  expect(connector.status).toBe(403);
  const wallet = (await p.call('GET', '/v1/wallet', { token, headers: { 'X-Org-Id': orgId } })).body;
  expect((await p.call('GET', `/v1/wallets/${wallet.wallet_id}/transfers`, { token })).status).toBe(403);
  await shoot(page, 'teams-04-member');
});

it('lets the owner promote the colleague to admin, then remove them; their key stops working at once', async () => {
  const { page } = owner;
  // A fresh load: the page still shows the members from before the colleague joined.
  await page.goto('/workspace');
  await page.reload();
  const row = page.locator(`[data-testid=member-row]:has-text("${colleagueEmail}")`);
  await row.locator('select[name=role]').selectOption('admin');
  await Promise.all([page.waitForURL('**/workspace#members'), row.locator('button:has-text("Change")').click()]);
  await expect(row.locator('select[name=role]').inputValue()).resolves.toBe('admin');
  await colleague.page.reload();
  expect(await colleague.page.locator('[data-testid=workspace-role]').textContent()).toBe('admin');
  // An admin sees every key with its creator.
  expect(await colleague.page.locator('#keys table').textContent()).toContain('buyer@cmp.local');

  await row.locator('a:has-text("Remove")').click();
  const confirm = page.locator('#members [role=alertdialog]');
  expect(await confirm.textContent()).toMatch(/The 1 API key they created here will be revoked at once/);
  await shoot(page, 'teams-05-confirm-remove');
  await Promise.all([page.waitForURL('**/workspace#members'), confirm.locator('button[type=submit]').click()]);
  expect(await page.locator(`[data-testid=member-row]:has-text("${colleagueEmail}")`).count()).toBe(0);

  const refused = await fetch(`${p.url}/v1/runs`, {
    method: 'POST', headers: { authorization: `Bearer ${colleagueKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ agent: 'ticket-triage', input: 'still there?' }),
  });
  expect(refused.status).toBe(401);
  // Back in the store, the colleague is in their own workspace only.
  await colleague.page.goto('/workspace');
  expect(await colleague.page.locator('[data-testid=workspace-role]').textContent()).toBe('owner');
  expect(await colleague.page.locator('#workspace-switcher').count()).toBe(0);
});

it('shows a clear page, not an error, for a used, revoked, expired, unknown or someone else\'s invitation', async () => {
  const { page } = colleague;
  const stateOf = async (url: string) => {
    const res = await page.goto(url);
    expect(res?.status(), url).toBe(200);
    return page.locator('[data-testid=invitation]').getAttribute('data-state');
  };
  // The colleague's link was used.
  await expect(stateOf(link)).resolves.toBe('accepted');
  expect(await page.locator('h1').textContent()).toBe('This invitation has been used');
  await shoot(page, 'teams-06-invitation-used');

  const invite = async (email: string) => {
    const created = (await p.call('POST', `/v1/orgs/${orgId}/invitations`, { token: ownerToken, body: { email, role: 'member' } })).body;
    return { id: created.id as string, url: created.link as string };
  };
  const revoked = await invite(`revoked-${randomBytes(3).toString('hex')}@example.com`);
  await p.call('DELETE', `/v1/orgs/${orgId}/invitations/${revoked.id}`, { token: ownerToken });
  await expect(stateOf(revoked.url)).resolves.toBe('revoked');
  expect(await page.locator('h1').textContent()).toBe('This invitation was withdrawn');

  const expired = await invite(`expired-${randomBytes(3).toString('hex')}@example.com`);
  await p.clients.db('invitations').where('id', expired.id).update({ expires_at: p.clients.db.raw("now() - interval '1 minute'") });
  await expect(stateOf(expired.url)).resolves.toBe('expired');
  expect(await page.locator('h1').textContent()).toBe('This invitation has expired');
  await shoot(page, 'teams-07-invitation-expired');

  await expect(stateOf(`${web}/invite/${'x'.repeat(43)}`)).resolves.toBe('not-found');
  await expect(stateOf(`${web}/invite/short`)).resolves.toBe('not-found');

  // Signed in as someone else than the invited person: who it is for, and how to switch.
  const other = await invite(`other-${randomBytes(3).toString('hex')}@example.com`);
  await expect(stateOf(other.url)).resolves.toBe('wrong-email');
  expect(await page.locator('[data-testid=invitation]').textContent()).toContain(`It was sent to other-`);
  await shoot(page, 'teams-08-invitation-wrong-email');
});
