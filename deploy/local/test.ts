// `npm test`: installs the tools the tests need (Temporal CLI, PostgreSQL,
// Langflow, OpenBao, SeaweedFS, Keycloak, chromium), then typecheck, lint, and every
// vitest project in one run. Ends with one plain summary line ("N passed, N failed").
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './stack';
import { ensureChromium, ensureKeycloak, ensureKeycloakJava, ensureLangflow, ensureOpenBao, ensurePostgres, ensurePrometheus, ensureSeaweedFS, ensureTemporal } from './tools';

const t0 = Date.now();
ensureTemporal(repoRoot);
ensurePostgres();
ensureLangflow(repoRoot);
ensurePrometheus();
ensureOpenBao(repoRoot);
ensureSeaweedFS(repoRoot);
ensureKeycloakJava();
ensureKeycloak(repoRoot);
if (fs.existsSync(path.join(repoRoot, 'test/e2e'))) ensureChromium();

function step(name: string, command: string, args: string[]): boolean {
  process.stdout.write(`\n\x1b[35m▸ ${name}\x1b[0m\n`);
  const r = spawnSync(command, args, { cwd: repoRoot, stdio: 'inherit' });
  return r.status === 0;
}

const bin = (name: string) => path.join(repoRoot, 'node_modules/.bin', name);
const report = path.join(repoRoot, '.test-data/vitest-report.json');
fs.mkdirSync(path.dirname(report), { recursive: true });
fs.rmSync(report, { force: true });

const typecheck = step('typecheck', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']);
const webCheck = step('typecheck web', 'npm', ['run', '--silent', '--workspace', 'web', 'check']);
const lint = step('lint', bin('eslint'), ['.']);
const tests = step('tests (unit, integration, browser)', bin('vitest'), [
  'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`,
]);

let passed = 0;
let failed = 0;
if (fs.existsSync(report)) {
  const r = JSON.parse(fs.readFileSync(report, 'utf8')) as { numPassedTests: number; numFailedTests: number };
  passed = r.numPassedTests;
  failed = r.numFailedTests;
}
// A run that failed outside any test (setup, unhandled error) still counts as a failure.
if (!tests && failed === 0) failed = 1;
for (const [name, ok] of [['typecheck', typecheck], ['typecheck web', webCheck], ['lint', lint]] as const) {
  if (!ok) {
    console.log(`${name} failed`);
    failed += 1;
  }
}
console.log(`\nnpm test finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(typecheck && webCheck && lint && tests && failed === 0 ? 0 : 1);
