// GitOpsRepo over a local bare repository, with git plumbing only (no work
// tree): blobs are hashed in, a private temporary index builds the new tree,
// and `update-ref <new> <old>` moves the branch only if nobody else moved it
// first. That compare-and-swap is the same optimistic lock GitHub's updateRef
// (force: false) gives the production implementation.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../logger';
import {
  assertCommitRequest,
  assertRepoPath,
  DEFAULT_AUTHOR,
  GitOpsRejectedError,
  GitOpsUnavailableError,
  lockRetryDelay,
  sleep,
  type CommitRequest,
  type CommitResult,
  type GitOpsRepo,
} from './gitops-repo';

export interface LocalGitRepoOptions {
  /** Path of the bare repository (GITOPS_LOCAL_REPO). */
  gitDir: string;
  branch?: string;
  /** Attempts when the branch moved between reading and updating it. */
  maxAttempts?: number;
  logger?: Logger;
}

const ZERO_SHA = '0'.repeat(40);

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class LocalGitRepo implements GitOpsRepo {
  private readonly gitDir: string;
  private readonly ref: string;
  private readonly maxAttempts: number;
  /** This instance's commits run one at a time: racing ourselves would only burn retries. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: LocalGitRepoOptions) {
    this.gitDir = path.resolve(opts.gitDir);
    this.ref = `refs/heads/${opts.branch ?? 'main'}`;
    this.maxAttempts = opts.maxAttempts ?? 30;
  }

  async headSha(): Promise<string> {
    const head = await this.currentHead();
    if (!head) throw new GitOpsRejectedError(`Branch ${this.ref} does not exist in ${this.gitDir}`);
    return head;
  }

  async readFile(filePath: string): Promise<string | null> {
    assertRepoPath(filePath);
    const head = await this.currentHead();
    if (!head) return null;
    // ls-tree answers nothing (exit 0) for a missing path, so "missing" is never confused with "failed".
    const entry = (await this.git(['ls-tree', '-z', head, '--', filePath])).stdout;
    const match = /^\d+ blob ([0-9a-f]{40})\t/.exec(entry);
    if (!match) return null;
    return (await this.git(['cat-file', 'blob', match[1]!])).stdout;
  }

  async commitFiles(request: CommitRequest): Promise<CommitResult> {
    assertCommitRequest(request);
    const run = this.queue.then(() => this.commitWithRetries(request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async commitWithRetries(request: CommitRequest): Promise<CommitResult> {
    // Blobs are content-addressed, so hashing them once serves every attempt.
    const blobs = new Map<string, string>();
    for (const [filePath, content] of Object.entries(request.files)) {
      if (content !== null) blobs.set(filePath, (await this.git(['hash-object', '-w', '--stdin'], { input: content })).stdout.trim());
    }
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const result = await this.tryCommit(request, blobs);
      if (result) return result;
      this.opts.logger?.debug({ attempt, ref: this.ref }, 'gitops branch moved; retrying commit');
      await sleep(lockRetryDelay(attempt));
    }
    throw new GitOpsUnavailableError(`Branch ${this.ref} kept moving; gave up after ${this.maxAttempts} attempts`);
  }

  /** One read-build-swap round; null when another writer moved the branch first. */
  private async tryCommit(request: CommitRequest, blobs: Map<string, string>): Promise<CommitResult | null> {
    const parent = await this.currentHead();
    const indexFile = path.join(os.tmpdir(), `cmp-gitops-index-${process.pid}-${crypto.randomUUID()}`);
    const env = { GIT_INDEX_FILE: indexFile };
    try {
      await this.git(parent ? ['read-tree', parent] : ['read-tree', '--empty'], { env });
      // --index-info takes every change in one call; mode 0 removes the path (a no-op when absent).
      const lines = Object.entries(request.files).map(([filePath, content]) =>
        content === null ? `0 ${ZERO_SHA}\t${filePath}` : `100644 ${blobs.get(filePath)!}\t${filePath}`,
      );
      await this.git(['update-index', '--index-info'], { env, input: `${lines.join('\n')}\n` });
      const tree = (await this.git(['write-tree'], { env })).stdout.trim();
      if (parent) {
        const parentTree = (await this.git(['rev-parse', `${parent}^{tree}`])).stdout.trim();
        if (parentTree === tree) return { sha: parent, changed: false };
      }
      const author = request.author ?? DEFAULT_AUTHOR;
      const identity = {
        GIT_AUTHOR_NAME: author.name,
        GIT_AUTHOR_EMAIL: author.email,
        GIT_COMMITTER_NAME: DEFAULT_AUTHOR.name,
        GIT_COMMITTER_EMAIL: DEFAULT_AUTHOR.email,
      };
      const commit = (await this.git(['commit-tree', tree, ...(parent ? ['-p', parent] : []), '-F', '-'], { env: identity, input: request.message })).stdout.trim();
      // The old value makes this a compare-and-swap; a held ref lock fails the same way.
      const swap = await this.git(['update-ref', '-m', 'cmp gitops commit', this.ref, commit, parent ?? ZERO_SHA], { allowFailure: true });
      if (swap.code !== 0) return null;
      this.opts.logger?.info({ ref: this.ref, sha: commit, files: Object.keys(request.files) }, 'gitops commit');
      return { sha: commit, changed: true };
    } finally {
      fs.rmSync(indexFile, { force: true });
      fs.rmSync(`${indexFile}.lock`, { force: true });
    }
  }

  private async currentHead(): Promise<string | null> {
    const res = await this.git(['rev-parse', '--verify', '--quiet', `${this.ref}^{commit}`], { allowFailure: true });
    if (res.code === 0) return res.stdout.trim();
    if (res.code === 1) return null;
    throw new GitOpsUnavailableError(`git rev-parse failed in ${this.gitDir}: ${res.stderr.trim()}`);
  }

  private git(args: string[], opts: { env?: Record<string, string>; input?: string; allowFailure?: boolean } = {}): Promise<GitResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('git', ['--git-dir', this.gitDir, ...args], {
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', ...opts.env },
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on('data', (c: Buffer) => out.push(c));
      child.stderr!.on('data', (c: Buffer) => err.push(c));
      child.on('error', (e) => reject(new GitOpsUnavailableError(`git could not be started: ${e.message}`)));
      child.on('close', (code) => {
        const result = { code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
        if (result.code !== 0 && !opts.allowFailure) {
          reject(new GitOpsUnavailableError(`git ${args[0]} failed (${result.code}): ${result.stderr.trim()}`));
        } else {
          resolve(result);
        }
      });
      if (opts.input !== undefined) {
        // git may exit before reading all of stdin (it failed); its exit code tells, so a broken pipe is not an error here.
        child.stdin!.on('error', () => undefined);
        child.stdin!.end(opts.input);
      }
    });
  }
}
