// Lighthouse (12.2.3) against the store, in a chromium of its own started by
// chrome-launcher from Debian's /usr/bin/chromium. Mobile is Lighthouse's
// default (simulated slow 4G and a 4× slower CPU); desktop uses its desktop preset.
import fs from 'node:fs';
import path from 'node:path';
import * as chromeLauncher from 'chrome-launcher';
import lighthouse from 'lighthouse';
import desktopConfig from 'lighthouse/core/config/desktop-config.js';
import { repoRoot } from '../../deploy/local/stack';

export interface LighthouseScores {
  url: string;
  /** Where the audit ended up after redirects (a sign-in page, if the session did not hold). */
  finalUrl: string;
  formFactor: 'mobile' | 'desktop';
  performance: number;
  accessibility: number;
  bestPractices: number;
  seo: number;
  /** Audits that lost points in performance or accessibility, for the report. */
  failing: string[];
}

export const lighthouseDir = path.join(repoRoot, 'test/artifacts/lighthouse');

/** `cookie` signs the audit in (a page behind a session, as the publisher console): sent with every request. */
export async function runLighthouse(url: string, formFactor: 'mobile' | 'desktop', opts: { cookie?: string } = {}): Promise<LighthouseScores> {
  const chrome = await chromeLauncher.launch({
    chromePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    chromeFlags: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const result = await lighthouse(
      url,
      { port: chrome.port, output: 'html', logLevel: 'error', onlyCategories: ['performance', 'accessibility', 'best-practices', 'seo'], ...(opts.cookie ? { extraHeaders: { Cookie: opts.cookie } } : {}) },
      formFactor === 'desktop' ? desktopConfig : undefined,
    );
    if (!result) throw new Error(`Lighthouse returned nothing for ${url}`);
    const { lhr } = result;
    fs.mkdirSync(lighthouseDir, { recursive: true });
    const name = `${new URL(url).pathname.replace(/\W+/g, '-').replace(/^-|-$/g, '') || 'landing'}-${formFactor}`;
    fs.writeFileSync(path.join(lighthouseDir, `${name}.html`), String(result.report));
    const score = (id: string) => Math.round((lhr.categories[id]?.score ?? 0) * 100);
    const failing = ['performance', 'accessibility']
      .flatMap((c) => lhr.categories[c]?.auditRefs ?? [])
      .filter((ref) => ref.weight > 0 && (lhr.audits[ref.id]?.score ?? 1) < 0.9)
      .map((ref) => `${ref.id}: ${lhr.audits[ref.id]?.displayValue ?? lhr.audits[ref.id]?.score}`);
    return {
      url, finalUrl: lhr.finalDisplayedUrl, formFactor, performance: score('performance'), accessibility: score('accessibility'), bestPractices: score('best-practices'), seo: score('seo'), failing,
    };
  } finally {
    chrome.kill();
  }
}
