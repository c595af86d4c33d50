// Time to first value, driven by a real browser: from opening the landing page
// to the first successful API call — sign in at Keycloak, subscribe to
// a free plan, wait for provisioning, create an API key, and run the copied
// curl snippet. Starts the whole platform on test slot CMP_TEST_SLOT (8 unless
// set): PostgreSQL, Temporal, S3, Langflow (or, with CMP_TEST_SKIP_LANGFLOW=1,
// the zero-latency stand-in), Keycloak, OpenBao, the Saleor
// sandbox, the workers, the API and the built store.
//   npm run bench:ttfv     → last line {"bench":"ttfv","seconds":…}
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig } from '../../core/config';
import { createDb, migrateLatest } from '../../core/db';
import { startOpenBao } from '../../deploy/local/openbao';
import { platformServices } from '../../deploy/local/platform';
import { httpOk, stopAll, type Service } from '../../deploy/local/processes';
import { seedLaunchAgents } from '../../deploy/local/seed';
import {
  ensureGitopsRepo, repoRoot, stackEnv, startKeycloak, startLangflow, startNodeService, startPostgres, startS3, startTemporal, startWeb, testLayout,
} from '../../deploy/local/stack';
import { DESKTOP, launchChromium, signInAtProvider } from '../e2e/browser';
import { startFakeRuntime, type FakeRuntime } from '../support/fake-runtime';

const slot = Number(process.env.CMP_TEST_SLOT ?? 8);
const layout = testLayout(slot);
const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const say = (m: string) => process.stderr.write(`▸ ${m}\n`);

async function main(): Promise<void> {
  fs.rmSync(layout.dataDir, { recursive: true, force: true });
  fs.mkdirSync(layout.logDir, { recursive: true });
  const services: Service[] = [];
  const track = async (s: Promise<Service>) => {
    const service = await s;
    services.push(service);
    return service;
  };
  let runtime: FakeRuntime | undefined;
  const browser = await launchChromium();
  try {
    say(`starting the platform on slot ${slot}…`);
    if (process.env.CMP_TEST_SKIP_LANGFLOW === '1') runtime = await startFakeRuntime();
    const env = { ...stackEnv(layout), ...(runtime ? { LANGFLOW_URL: runtime.url } : {}) };
    const config = loadConfig({ ...process.env, ...env });
    ensureGitopsRepo(layout);
    const bundlePath = path.join(layout.dataDir, 'workflow-bundle.js');
    const bundle = bundleWorkflowCode({ workflowsPath: path.join(repoRoot, 'workflows/index.ts'), logger: quiet }).then((b) => fs.writeFileSync(bundlePath, b.code));
    await Promise.all([
      track(startPostgres(layout)), track(startTemporal(layout)), track(startS3(layout)), track(startKeycloak(layout)),
      track(startOpenBao(layout, { token: config.VAULT_TOKEN })),
      ...platformServices(layout).map(track),
      ...(runtime ? [] : [track(startLangflow(layout))]),
    ]);
    const db = createDb(config.DATABASE_URL, 2);
    await migrateLatest(db);
    await db.destroy();
    await seedLaunchAgents(config);
    await bundle;
    for (const w of ['provisioning', 'runs']) {
      await track(startNodeService(layout, `worker-${w}`, `workers/${w}.ts`, {
        url: `task queue ${w}`, env: { ...env, CMP_WORKFLOW_BUNDLE: bundlePath },
        ready: async () => fs.readFileSync(path.join(layout.logDir, `worker-${w}.log`), 'utf8').includes('worker started'),
      }));
    }
    await track(startNodeService(layout, 'api', 'api/server.ts', { url: config.API_PUBLIC_URL, env, ready: () => httpOk(`${config.API_PUBLIC_URL}/healthz`) }));
    const web = await track(startWeb(layout));
    say('platform ready; the clock starts at the landing page');

    const context = await browser.newContext({ viewport: DESKTOP, baseURL: web.url });
    const page = await context.newPage();
    const marks: Record<string, number> = {};
    const t0 = performance.now();
    const mark = (name: string) => (marks[name] = Math.round(performance.now() - t0) / 1000);

    await page.goto('/');
    mark('landing');
    await page.click('.hero a.btn >> nth=0'); // "Try … free"
    await page.waitForURL(/\/store\/[^/]+/);
    const slug = new URL(page.url()).pathname.split('/').pop()!;
    mark('agent page');
    await page.click('#pricing a[data-plan=free]'); // "Sign in to subscribe free"
    await signInAtProvider(page, 'buyer@cmp.local');
    await page.waitForURL('**/workspace?welcome=1');
    mark('signed in');
    await page.goto(`/store/${slug}`);
    await Promise.all([page.waitForURL(/\/orders\//), page.click('#pricing button[data-plan=free]')]);
    await page.waitForSelector('[data-testid=order-status]:text-is("Active")', { timeout: 120_000 });
    mark('subscribed');
    await page.click('#api-key button[type=submit]');
    const curl = (await page.locator('#api-key pre[data-snippet=curl]').textContent())!;
    mark('key');
    const answer = JSON.parse(execFileSync('bash', ['-c', curl], { encoding: 'utf8', timeout: 60_000 }));
    if (answer.status !== 'succeeded') throw new Error(`the first call did not succeed: ${JSON.stringify(answer)}`);
    const seconds = Math.round(performance.now() - t0) / 1000;
    mark('first call');
    console.log(JSON.stringify({ marks }));
    console.log(JSON.stringify({ bench: 'ttfv', seconds, target_seconds: 60, runtime: runtime ? 'stand-in' : 'langflow' }));
    await context.close();
  } finally {
    await browser.close();
    await stopAll(services);
    await runtime?.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
