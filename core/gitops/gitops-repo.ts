// The GitOps port: instance manifests are committed to a repository that
// ArgoCD syncs. Production commits to GitHub; locally a bare repository
// plays the same part.
import { AppError } from '../errors';

export interface CommitAuthor {
  name: string;
  email: string;
}

export interface CommitRequest {
  message: string;
  /** Repository path → new content; null deletes the file (deleting a missing file is a no-op). */
  files: Record<string, string | null>;
  author?: CommitAuthor;
}

export interface CommitResult {
  /** The new commit, or the current head when nothing changed. */
  sha: string;
  changed: boolean;
}

export interface GitOpsRepo {
  /** One atomic commit with every file; no commit at all when the tree would not change. */
  commitFiles(request: CommitRequest): Promise<CommitResult>;
  /** The file's content on the branch head, or null when it does not exist. */
  readFile(path: string): Promise<string | null>;
  headSha(): Promise<string>;
}

export const DEFAULT_AUTHOR: CommitAuthor = { name: 'CMP Provisioning', email: 'gitops@cmp.local' };

/** A transient failure (network, 5xx, branch kept moving under us): retry the whole commit later. */
export class GitOpsUnavailableError extends AppError {
  readonly retryable = true;
  constructor(detail: string, readonly upstreamStatus?: number) {
    super('upstream-unavailable', 'GitOps repository unavailable', detail, upstreamStatus ? { upstream_status: upstreamStatus } : {});
    this.name = 'GitOpsUnavailableError';
  }
}

/** The repository refused the request (bad path, no permission, missing branch): retrying changes nothing. */
export class GitOpsRejectedError extends AppError {
  readonly retryable = false;
  constructor(detail: string, readonly upstreamStatus?: number) {
    super(upstreamStatus ? 'internal' : 'validation', 'GitOps repository rejected the request', detail, upstreamStatus ? { upstream_status: upstreamStatus } : {});
    this.name = 'GitOpsRejectedError';
  }
}

const SEGMENT = /^[A-Za-z0-9_.@-]+$/;

/** Throws unless the path is relative, has no empty, "." or ".." segments, stays out of .git and uses safe characters. */
export function assertRepoPath(path: string): void {
  const segments = path.split('/');
  const problem =
    path.length === 0 ? 'is empty'
    : path.startsWith('/') ? 'starts with "/"'
    : segments.some((s) => s === '..' || s === '.') ? 'contains "." or ".." segments'
    : segments.some((s) => !SEGMENT.test(s)) ? 'has an empty segment or a character outside [A-Za-z0-9_.@-]'
    : segments.some((s) => s.toLowerCase() === '.git') ? 'enters .git'
    : undefined;
  if (problem) throw new GitOpsRejectedError(`Repository path ${JSON.stringify(path)} ${problem}`);
}

export function assertCommitRequest(request: CommitRequest): void {
  if (!request.message.trim()) throw new GitOpsRejectedError('A commit needs a message');
  const paths = Object.keys(request.files);
  if (paths.length === 0) throw new GitOpsRejectedError('A commit needs at least one file');
  for (const path of paths) assertRepoPath(path);
}

/** Jittered exponential backoff between optimistic-lock retries: about 10, 20, 40… ms, capped at 250 ms. */
export function lockRetryDelay(attempt: number): number {
  const base = Math.min(10 * 2 ** attempt, 250);
  return base / 2 + Math.random() * base;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
