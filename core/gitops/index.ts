// GitOps: the GitOpsRepo port, its GitHub and local-bare-repository
// implementations, and the instance manifest they carry.
import path from 'node:path';
import { Octokit } from '@octokit/rest';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { GitHubRepo } from './github-repo';
import { LocalGitRepo } from './local-git-repo';
import type { GitOpsRepo } from './gitops-repo';

export * from './gitops-repo';
export * from './manifest';
export { GitHubRepo, classifyGitHubError, type GitHubRepoOptions } from './github-repo';
export { LocalGitRepo, type LocalGitRepoOptions } from './local-git-repo';

type GitOpsConfig = Pick<Config, 'GITOPS_MODE' | 'GITOPS_LOCAL_REPO' | 'GITOPS_BRANCH' | 'GITHUB_TOKEN' | 'GITHUB_OWNER' | 'GITHUB_REPO'>;

/** The configured repository: GitHub in production (GITOPS_MODE=github), else the local bare repository. */
export function createGitOpsRepo(config: GitOpsConfig, logger?: Logger): GitOpsRepo {
  if (config.GITOPS_MODE === 'github') {
    // The config schema already requires these in github mode.
    const octokit = new Octokit({
      auth: config.GITHUB_TOKEN,
      userAgent: 'cmp-gitops',
      // Octokit logs every 404 as an error, yet "file not there" is a normal answer; GitHubRepo logs what matters.
      log: { debug: () => undefined, info: () => undefined, warn: (m: string) => logger?.warn(m), error: (m: string) => logger?.debug(m) },
    });
    return new GitHubRepo({ octokit, owner: config.GITHUB_OWNER!, repo: config.GITHUB_REPO!, branch: config.GITOPS_BRANCH, logger });
  }
  return new LocalGitRepo({ gitDir: path.resolve(config.GITOPS_LOCAL_REPO), branch: config.GITOPS_BRANCH, logger });
}
