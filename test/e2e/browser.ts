// What the browser tests share: Debian's chromium through playwright-core,
// pages that record every console error and uncaught exception, screenshots
// at desktop and phone width, and Keycloak's sign-in and registration forms.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '../../deploy/local/stack';
import { DEV_PASSWORD } from '../support/oidc';

export const screenshotDir = path.join(repoRoot, 'test/artifacts/screenshots');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-gpu'],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Console errors and uncaught exceptions of every store page (on `origin`) opened in the context. */
export function watchErrors(context: BrowserContext, origin: string): string[] {
  const errors: string[] = [];
  const ours = (page: Page) => page.url().startsWith(origin);
  const watch = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() === 'error' && ours(page)) errors.push(`${page.url()}: console: ${m.text()}`);
    });
    page.on('pageerror', (e) => {
      if (ours(page)) errors.push(`${page.url()}: pageerror: ${e.message}`);
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return errors;
}

let storeOrigin: string | undefined;
/** Pages on this origin are the store's: they must fit a phone's width. */
export function setStoreOrigin(origin: string): void {
  storeOrigin = origin;
}

/** Full-page screenshots at desktop (1280) and phone (390) width. */
export async function shoot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const before = page.viewportSize() ?? DESKTOP;
  await page.setViewportSize(DESKTOP);
  // From the top, so the sticky header sits where a person sees it.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(screenshotDir, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(100);
  await page.screenshot({ path: path.join(screenshotDir, `${name}-phone.png`), fullPage: true });
  // Responsive down to a phone: nothing may push the page wider than the screen.
  const width = Number(await page.evaluate('document.documentElement.scrollWidth'));
  if (width > PHONE.width && new URL(page.url()).port === new URL(storeOrigin ?? page.url()).port) {
    // The outermost elements sticking out, not counting what scrolls inside its own box.
    const culprits = await page.evaluate(`[...document.querySelectorAll('body *')].filter((e) => {
      if (e.getBoundingClientRect().right <= ${PHONE.width} + 1) return false;
      for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible') return false;
      }
      return true;
    }).slice(0, 6).map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')`);
    throw new Error(`${name}: the page is ${width}px wide at phone width ${PHONE.width}px (${String(culprits)})`);
  }
  await page.setViewportSize(before);
}

/** Keycloak's pages live under /realms/; anything else is back at the store. */
const leftKeycloak = (u: URL) => !u.pathname.startsWith('/realms/');

/** Fills Keycloak's real sign-in form. */
export async function signInAtProvider(page: Page, email: string, password = DEV_PASSWORD): Promise<void> {
  await page.waitForSelector('#kc-form-login');
  await page.fill('#username', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(leftKeycloak), page.click('#kc-login')]);
}

/** From Keycloak's sign-in page, follows "Register" and creates the account, as a visitor does. */
export async function registerAtProvider(page: Page, person: { email: string; password: string; firstName: string; lastName: string }): Promise<void> {
  await page.waitForSelector('#kc-form-login');
  await Promise.all([page.waitForSelector('#kc-register-form'), page.click('a[href*="login-actions/registration"]')]);
  await page.fill('#email', person.email);
  await page.fill('#firstName', person.firstName);
  await page.fill('#lastName', person.lastName);
  await page.fill('#password', person.password);
  await page.fill('#password-confirm', person.password);
  await Promise.all([page.waitForURL(leftKeycloak), page.click('#kc-register-form [type=submit]')]);
}

/** The tests' one polling helper, for the browser tests that import it from here. */
export { until } from '../support/until';
