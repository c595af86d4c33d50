// GitOpsRepo over GitHub's git-data API. Several files in one atomic commit:
// getRef → getCommit → createTree (base_tree) → createCommit → updateRef with
// force: false, which GitHub refuses (422) when the branch moved since getRef:
// that refusal is the optimistic lock, and the whole round is retried.
import type { Octokit } from '@octokit/rest';
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

export interface GitHubRepoOptions {
  /** Built by the caller (token, base URL, custom fetch in tests). */
  octokit: Octokit;
  owner: string;
  repo: string;
  branch?: string;
  maxAttempts?: number;
  logger?: Logger;
}

type TreeEntry = { path: string; mode: '100644'; type: 'blob'; content?: string; sha?: string | null };

export class GitHubRepo implements GitOpsRepo {
  private readonly octokit: Octokit;
  private readonly owner: string;
  private readonly repo: string;
  private readonly branch: string;
  private readonly maxAttempts: number;

  constructor(private readonly opts: GitHubRepoOptions) {
    this.octokit = opts.octokit;
    this.owner = opts.owner;
    this.repo = opts.repo;
    this.branch = opts.branch ?? 'main';
    this.maxAttempts = opts.maxAttempts ?? 5;
  }

  async headSha(): Promise<string> {
    return this.call('getRef', async () => {
      const { data } = await this.octokit.rest.git.getRef({ owner: this.owner, repo: this.repo, ref: `heads/${this.branch}` });
      return data.object.sha;
    });
  }

  async readFile(filePath: string): Promise<string | null> {
    assertRepoPath(filePath);
    return this.fileAt(filePath, this.branch);
  }

  async commitFiles(request: CommitRequest): Promise<CommitResult> {
    assertCommitRequest(request);
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const result = await this.tryCommit(request);
      if (result) return result;
      this.opts.logger?.debug({ attempt, branch: this.branch }, 'gitops branch moved; retrying commit');
      await sleep(lockRetryDelay(attempt));
    }
    throw new GitOpsUnavailableError(`Branch ${this.branch} kept moving; gave up after ${this.maxAttempts} attempts`);
  }

  /** One round; null when updateRef found that the branch had moved. */
  private async tryCommit(request: CommitRequest): Promise<CommitResult | null> {
    const { owner, repo } = this;
    const head = await this.headSha();
    const baseTree = await this.call('getCommit', async () => (await this.octokit.rest.git.getCommit({ owner, repo, commit_sha: head })).data.tree.sha);

    const tree: TreeEntry[] = [];
    for (const [path, content] of Object.entries(request.files)) {
      if (content !== null) {
        tree.push({ path, mode: '100644', type: 'blob', content });
      } else if ((await this.fileAt(path, head)) !== null) {
        // GitHub refuses to delete a path the base tree lacks, so only existing files get sha: null.
        tree.push({ path, mode: '100644', type: 'blob', sha: null });
      }
    }
    if (tree.length === 0) return { sha: head, changed: false };

    const newTree = await this.call('createTree', async () => (await this.octokit.rest.git.createTree({ owner, repo, base_tree: baseTree, tree })).data.sha);
    if (newTree === baseTree) return { sha: head, changed: false };

    const author = request.author ?? DEFAULT_AUTHOR;
    const commit = await this.call('createCommit', async () =>
      (await this.octokit.rest.git.createCommit({ owner, repo, message: request.message, tree: newTree, parents: [head], author: { name: author.name, email: author.email } })).data.sha,
    );
    try {
      await this.octokit.rest.git.updateRef({ owner, repo, ref: `heads/${this.branch}`, sha: commit, force: false });
    } catch (err) {
      // 422 "Update is not a fast forward": someone committed since getRef.
      if (statusOf(err) === 422) return null;
      throw classifyGitHubError(err, 'updateRef');
    }
    this.opts.logger?.info({ branch: this.branch, sha: commit, files: Object.keys(request.files) }, 'gitops commit');
    return { sha: commit, changed: true };
  }

  private async fileAt(path: string, ref: string): Promise<string | null> {
    try {
      const { data } = await this.octokit.rest.repos.getContent({ owner: this.owner, repo: this.repo, path, ref });
      if (Array.isArray(data) || data.type !== 'file') throw new GitOpsRejectedError(`${path} is not a file`);
      if (data.encoding === 'base64' && data.content) return Buffer.from(data.content, 'base64').toString('utf8');
      // Files over 1 MB come back without content: fetch the blob itself.
      const blob = await this.call('getBlob', async () => (await this.octokit.rest.git.getBlob({ owner: this.owner, repo: this.repo, file_sha: data.sha })).data);
      return Buffer.from(blob.content, 'base64').toString('utf8');
    } catch (err) {
      if (err instanceof GitOpsRejectedError || err instanceof GitOpsUnavailableError) throw err;
      if (statusOf(err) === 404) return null;
      throw classifyGitHubError(err, 'getContent');
    }
  }

  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classifyGitHubError(err, op);
    }
  }
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' ? status : undefined;
}

/** Network errors, 5xx, 429 and rate-limit 403s are retryable; other 4xx are refusals. */
export function classifyGitHubError(err: unknown, op: string): GitOpsUnavailableError | GitOpsRejectedError {
  const status = statusOf(err);
  const message = (err as Error).message ?? String(err);
  if (status === undefined || status >= 500 || status === 429) return new GitOpsUnavailableError(`GitHub ${op}: ${message}`, status);
  const headers = (err as { response?: { headers?: Record<string, string> } }).response?.headers;
  if (status === 403 && headers?.['x-ratelimit-remaining'] === '0') return new GitOpsUnavailableError(`GitHub ${op}: rate limited`, status);
  return new GitOpsRejectedError(`GitHub ${op} answered ${status}: ${message}`, status);
}
