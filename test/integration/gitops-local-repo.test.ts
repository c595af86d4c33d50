// LocalGitRepo against fresh bare repositories made the way the dev stack makes
// its GitOps repository (ensureGitopsRepo), checked with git itself.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureGitopsRepo, testLayout } from '../../deploy/local/stack';
import { createGitOpsRepo, GitOpsRejectedError, instanceManifest, LocalGitRepo } from '../../core/gitops';
import type { Logger } from '../../core/logger';
import { testConfig } from '../support/stack';

const roots: string[] = [];

function freshRepo(): { gitDir: string; repo: LocalGitRepo } {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-gitops-test-'));
  roots.push(dataDir);
  const gitDir = ensureGitopsRepo({ ...testLayout(), dataDir, logDir: path.join(dataDir, 'logs') });
  return { gitDir, repo: new LocalGitRepo({ gitDir }) };
}

const git = (gitDir: string, ...args: string[]) => execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8' }).trim();

afterAll(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
});

describe('LocalGitRepo', () => {
  it('commits several files atomically, then reports an unchanged tree without committing', async () => {
    const { gitDir, repo } = freshRepo();
    const initial = await repo.headSha();
    expect(initial).toBe(git(gitDir, 'rev-parse', 'refs/heads/main'));

    const first = await repo.commitFiles({
      message: 'Provision instance i-1',
      files: { 'tenants/o-1/instances/i-1.yaml': 'kind: AgentInstance\n', 'tenants/o-1/README.md': 'org o-1\n' },
      author: { name: 'Ada', email: 'ada@example.test' },
    });
    expect(first.changed).toBe(true);
    expect(first.sha).toBe(git(gitDir, 'rev-parse', 'refs/heads/main'));
    expect(git(gitDir, 'rev-parse', `${first.sha}^`)).toBe(initial);
    expect(git(gitDir, 'show', '-s', '--format=%an <%ae>|%s', first.sha)).toBe('Ada <ada@example.test>|Provision instance i-1');
    // Both files arrived in that one commit, next to what was already there.
    expect(git(gitDir, 'diff-tree', '--no-commit-id', '--name-only', '-r', first.sha).split('\n').sort()).toEqual(['tenants/o-1/README.md', 'tenants/o-1/instances/i-1.yaml']);
    expect(git(gitDir, 'ls-tree', '-r', '--name-only', first.sha)).toContain('README.md');
    expect(await repo.readFile('tenants/o-1/instances/i-1.yaml')).toBe('kind: AgentInstance\n');
    expect(await repo.readFile('tenants/o-1/instances/missing.yaml')).toBeNull();

    const again = await repo.commitFiles({ message: 'Provision instance i-1 again', files: { 'tenants/o-1/instances/i-1.yaml': 'kind: AgentInstance\n' } });
    expect(again).toEqual({ sha: first.sha, changed: false });
    expect(git(gitDir, 'rev-list', '--count', 'main')).toBe('2');
  });

  it('deletes files, and deleting a missing file changes nothing', async () => {
    const { gitDir, repo } = freshRepo();
    await repo.commitFiles({ message: 'add', files: { 'a/b.yaml': 'b\n', 'a/c.yaml': 'c\n' } });
    const removed = await repo.commitFiles({ message: 'Deprovision b', files: { 'a/b.yaml': null } });
    expect(removed.changed).toBe(true);
    expect(await repo.readFile('a/b.yaml')).toBeNull();
    expect(await repo.readFile('a/c.yaml')).toBe('c\n');
    expect(git(gitDir, 'ls-tree', '-r', '--name-only', removed.sha).split('\n').sort()).toEqual(['README.md', 'a/c.yaml']);

    const noop = await repo.commitFiles({ message: 'Deprovision b again', files: { 'a/b.yaml': null } });
    expect(noop).toEqual({ sha: removed.sha, changed: false });
  });

  it('queues concurrent commits through one instance: 10 commits, none lost', async () => {
    const { gitDir, repo } = freshRepo();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => repo.commitFiles({ message: `Provision instance q-${i}`, files: { [`tenants/o/instances/q-${i}.yaml`]: `instance: ${i}\n` } })),
    );
    expect(new Set(results.map((r) => r.sha)).size).toBe(10);
    expect(git(gitDir, 'rev-list', '--count', 'main')).toBe('11');
    expect(git(gitDir, 'ls-tree', '-r', '--name-only', 'main').split('\n').filter((f) => f.includes('/q-'))).toHaveLength(10);
  });

  // Ten instances share nothing but the repository, like ten workers: only update-ref's compare-and-swap keeps them honest.
  it('loses no commit when 10 writers race for the branch', { timeout: 180_000 }, async () => {
    const { gitDir, repo } = freshRepo();
    let lostRaces = 0;
    const logger = { debug: () => lostRaces++, info: () => undefined } as unknown as Logger;
    const writers = Array.from({ length: 10 }, () => new LocalGitRepo({ gitDir, logger }));
    const results = await Promise.all(
      writers.map((w, i) => w.commitFiles({ message: `Provision instance i-${i}`, files: { [`tenants/o/instances/i-${i}.yaml`]: `instance: ${i}\n` } })),
    );
    expect(results.every((r) => r.changed)).toBe(true);
    expect(new Set(results.map((r) => r.sha)).size).toBe(10);
    // They really did collide, and the losers retried instead of overwriting.
    expect(lostRaces).toBeGreaterThan(0);
    expect(git(gitDir, 'rev-list', '--count', 'main')).toBe('11');
    const files = git(gitDir, 'ls-tree', '-r', '--name-only', 'main').split('\n');
    for (let i = 0; i < 10; i++) {
      expect(files).toContain(`tenants/o/instances/i-${i}.yaml`);
      expect(await repo.readFile(`tenants/o/instances/i-${i}.yaml`)).toBe(`instance: ${i}\n`);
    }
    // A linear history: every commit sits on the one before it.
    expect(git(gitDir, 'rev-list', '--merges', '--count', 'main')).toBe('0');
    git(gitDir, 'fsck', '--strict');
  });

  it('rejects paths outside the repository before touching it', async () => {
    const { gitDir, repo } = freshRepo();
    const head = await repo.headSha();
    for (const bad of ['../x.yaml', '/etc/x.yaml', 'a//b.yaml', '.git/config', 'a/./b']) {
      await expect(repo.commitFiles({ message: 'bad', files: { [bad]: 'x' } })).rejects.toBeInstanceOf(GitOpsRejectedError);
    }
    expect(git(gitDir, 'rev-parse', 'main')).toBe(head);
  });

  it('is what createGitOpsRepo builds for the test stack, and commits a manifest there', async () => {
    const repo = createGitOpsRepo(testConfig());
    expect(repo).toBeInstanceOf(LocalGitRepo);
    const manifest = instanceManifest({
      orgId: `org-${Date.now()}`,
      instanceId: 'inst-1',
      offeringSlug: 'summarizer',
      version: '1.0.0',
      plan: 'free',
      runtimeFlowId: 'flow-1',
      secretsPath: 'cmp/orgs/o/instances/inst-1',
    });
    const first = await repo.commitFiles({ message: 'Provision inst-1', files: { [manifest.path]: manifest.content } });
    expect(first.changed).toBe(true);
    expect(await repo.readFile(manifest.path)).toBe(manifest.content);
    expect(await repo.commitFiles({ message: 'Provision inst-1', files: { [manifest.path]: manifest.content } })).toEqual({ sha: first.sha, changed: false });
  });
});
