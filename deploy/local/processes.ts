// A small supervisor for the local stack: start a child process, send its
// output to a log file (and, prettified, to the console for our own services),
// wait for a health check, and stop it cleanly. Used by `npm run dev`, by the
// integration tests' global setup and by the benchmarks.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { prettyFactory } from 'pino-pretty';

export interface Service {
  name: string;
  url: string;
  child?: ChildProcess;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
  logDir: string;
  url: string;
  /** Resolves true once the service answers. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Echo the child's output to this process's stdout (pretty-printing pino JSON). */
  echo?: boolean;
  /** Signal that stops the service gracefully. */
  stopSignal?: NodeJS.Signals;
}

type SpawnListener = (service: Service) => void;
const spawnListeners = new Set<SpawnListener>();

/**
 * Tells `listener` of every service as soon as its process is spawned, before it is ready: `npm run dev` registers
 * each there, so a Ctrl-C or a failure during a long start (Keycloak, Langflow) stops it too instead of leaving a
 * detached process holding its ports. Returns the unsubscribe.
 */
export function onSpawn(listener: SpawnListener): () => void {
  spawnListeners.add(listener);
  return () => spawnListeners.delete(listener);
}

const pretty = prettyFactory({ colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' });

function echoLine(name: string, line: string): void {
  if (!line.trim()) return;
  const text = line.startsWith('{') ? safePretty(line) : `${line}\n`;
  process.stdout.write(`[${name}] ${text}`);
}

function safePretty(line: string): string {
  try {
    return pretty(line);
  } catch {
    return `${line}\n`;
  }
}

export async function startProcess(opts: StartOptions): Promise<Service> {
  fs.mkdirSync(opts.logDir, { recursive: true });
  const logPath = path.join(opts.logDir, `${opts.name}.log`);
  const log = fs.createWriteStream(logPath, { flags: 'a' });
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Own process group, so stop() can signal the whole tree (langflow, vite…).
    detached: true,
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (!opts.echo) return;
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) echoLine(opts.name, line);
    });
  }

  const service: Service = {
    name: opts.name,
    url: opts.url,
    child,
    async stop() {
      if (exited || child.pid === undefined) return;
      try {
        process.kill(-child.pid, opts.stopSignal ?? 'SIGTERM');
      } catch {
        return;
      }
      const killTimer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 10_000);
      await exitPromise;
      clearTimeout(killTimer);
      log.end();
    },
  };
  for (const listener of spawnListeners) listener(service);

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (exited) {
      const tail = readTail(logPath, 2000);
      throw new Error(`${opts.name} exited (${JSON.stringify(exited)}) before it was ready; see ${logPath}\n${tail}`);
    }
    if (await opts.ready().catch(() => false)) return service;
    await sleep(250);
  }
  await service.stop();
  throw new Error(`${opts.name} was not ready within ${opts.readyTimeoutMs ?? 60_000} ms; see ${logPath}\n${readTail(logPath, 2000)}`);
}

export function readTail(file: string, bytes: number): string {
  try {
    const data = fs.readFileSync(file);
    return data.subarray(Math.max(0, data.length - bytes)).toString('utf8');
  } catch {
    return '';
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function httpOk(url: string, init?: RequestInit): Promise<boolean> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
  return res.ok;
}

/** Stops services newest-first, so dependants go before what they depend on. */
export async function stopAll(services: Service[]): Promise<void> {
  for (const service of [...services].reverse()) {
    await service.stop().catch(() => undefined);
  }
}
