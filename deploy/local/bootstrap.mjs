#!/usr/bin/env node
// Entry of `npm run dev`, `npm test` and the benchmarks. Plain Node with no
// dependencies, because it runs before node_modules exists: it installs the npm
// packages when they are missing or stale, then hands over to the TypeScript
// scripts (run by tsx) that install the other tools and start the services.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [mode, ...rest] = process.argv.slice(2);

function run(command, args, opts = {}) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function npmDepsStale() {
  const installed = path.join(root, 'node_modules/.package-lock.json');
  if (!fs.existsSync(installed) || !fs.existsSync(path.join(root, 'node_modules/.bin/tsx'))) return true;
  const stamp = fs.statSync(installed).mtimeMs;
  return ['package.json', 'package-lock.json', 'web/package.json'].some((f) => {
    const file = path.join(root, f);
    return fs.existsSync(file) && fs.statSync(file).mtimeMs > stamp;
  });
}

if (npmDepsStale()) {
  console.log('\x1b[35m▸\x1b[0m installing npm packages…');
  const t0 = Date.now();
  const ci = fs.existsSync(path.join(root, 'package-lock.json')) && !fs.existsSync(path.join(root, 'node_modules'));
  const status = run('npm', [ci ? 'ci' : 'install', '--no-audit', '--no-fund']);
  if (status !== 0) process.exit(status);
  console.log(`\x1b[35m▸\x1b[0m npm packages installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

const tsx = path.join(root, 'node_modules/.bin/tsx');
const scripts = { dev: 'deploy/local/dev.ts', test: 'deploy/local/test.ts', bench: rest.shift() };
const script = scripts[mode];
if (!script) {
  console.error(`usage: bootstrap.mjs dev|test|bench <file> [args]`);
  process.exit(2);
}
// Ctrl-C reaches the child through the shared process group; wait for it to clean up.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.exit(run(tsx, [script, ...rest]));
