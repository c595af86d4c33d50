// GitHubRepo against a fake GitHub: Octokit gets a custom fetch that records
// every request and answers from an in-memory git model (real git object
// hashing, so identical trees get identical SHAs). Every request is checked
// against GitHub's published OpenAPI description (@octokit/openapi): the
// operation must exist for that method and path, path and query parameters
// must be declared, and the JSON body must satisfy the operation's schema with
// no property GitHub does not know. Every answer of the fake is checked
// against the same description, so the fake cannot drift into a GitHub that
// does not exist.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Octokit } from '@octokit/rest';
import { beforeEach, describe, expect, it } from 'vitest';
import { GitHubRepo, GitOpsRejectedError, GitOpsUnavailableError, instanceManifest } from '../../core/gitops';

// ---------------------------------------------------------------- OpenAPI checks

type Schema = Record<string, any>;
const spec = createRequire(import.meta.url)('@octokit/openapi/generated/api.github.com.json') as {
  paths: Record<string, Record<string, Schema>>;
  components: Record<string, Record<string, Schema>>;
};

function resolve(node: Schema | undefined): Schema | undefined {
  let current = node;
  while (current && typeof current.$ref === 'string') {
    current = current.$ref
      .slice(2)
      .split('/')
      .reduce<any>((acc, key) => acc?.[key], spec);
  }
  return current;
}

const templates = Object.keys(spec.paths).map((template) => ({
  template,
  regex: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)')}$`),
  literalSegments: template.split('/').filter((s) => s && !s.startsWith('{')).length,
}));

interface CheckedRequest {
  operationId: string;
  template: string;
}

/** Finds GitHub's operation for a request and lists everything about it GitHub would not accept. */
function checkRequest(method: string, url: URL, body: unknown): { operation?: CheckedRequest; problems: string[] } {
  const problems: string[] = [];
  const verb = method.toLowerCase();
  const candidates = templates
    .filter((t) => t.regex.test(url.pathname) && spec.paths[t.template]![verb])
    .sort((a, b) => b.literalSegments - a.literalSegments);
  const match = candidates[0];
  if (!match) return { problems: [`GitHub has no operation ${method} ${url.pathname}`] };
  const operation = spec.paths[match.template]![verb]!;
  const parameters = ((operation.parameters ?? []) as Schema[]).map((p) => resolve(p)!);
  for (const p of parameters.filter((p) => p.in === 'query' && p.required)) {
    if (!url.searchParams.has(p.name)) problems.push(`missing required query parameter ${p.name}`);
  }
  for (const name of url.searchParams.keys()) {
    if (!parameters.some((p) => p.in === 'query' && p.name === name)) problems.push(`undeclared query parameter ${name}`);
  }
  const values = match.regex.exec(url.pathname)!.slice(1);
  const names = [...match.template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  names.forEach((name, i) => {
    if (!parameters.some((p) => p.in === 'path' && p.name === name)) problems.push(`undeclared path parameter ${name}`);
    if (!values[i]) problems.push(`empty path parameter ${name}`);
  });
  const requestBody = resolve(operation.requestBody);
  const schema = resolve(requestBody?.content?.['application/json']?.schema);
  if (body !== undefined) {
    if (!schema) problems.push(`${operation.operationId} takes no JSON body`);
    else validate(schema, body, 'body', problems, true);
  } else if (requestBody?.required) {
    problems.push(`${operation.operationId} requires a body`);
  }
  return { operation: { operationId: operation.operationId as string, template: match.template }, problems };
}

function checkResponse(operation: CheckedRequest, method: string, status: number, body: unknown): string[] {
  const problems: string[] = [];
  const responses = spec.paths[operation.template]![method.toLowerCase()]!.responses as Record<string, Schema>;
  const response = resolve(responses[String(status)]);
  if (!response) return [`${operation.operationId} never answers ${status}`];
  const schema = resolve(response.content?.['application/json']?.schema);
  if (schema) validate(schema, body, 'response', problems, false);
  return problems;
}

/** The subset of JSON Schema GitHub's description uses. `strict` also refuses properties the schema does not name. */
function validate(node: Schema, value: unknown, where: string, problems: string[], strict: boolean): void {
  const schema = resolve(node)!;
  const types: string[] = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (value === null) {
    if (schema.nullable || types.includes('null')) return;
    if (!schema.oneOf && !schema.anyOf) {
      problems.push(`${where} must not be null`);
      return;
    }
  }
  for (const key of ['oneOf', 'anyOf'] as const) {
    if (schema[key]) {
      const fits = (schema[key] as Schema[]).some((option) => {
        const sub: string[] = [];
        validate(option, value, where, sub, strict);
        return sub.length === 0;
      });
      if (!fits) problems.push(`${where} matches none of ${key}`);
      return;
    }
  }
  for (const part of (schema.allOf ?? []) as Schema[]) validate(part, value, where, problems, strict);
  if (types.length > 0 && !types.some((t) => typeMatches(t, value))) {
    problems.push(`${where} must be ${types.join('|')}, got ${JSON.stringify(value)}`);
    return;
  }
  if (schema.enum && !(schema.enum as unknown[]).includes(value)) problems.push(`${where} must be one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${where} is shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${where} is longer than ${schema.maxLength}`);
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, i) => validate(schema.items, item, `${where}[${i}]`, problems, strict));
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in record)) problems.push(`${where}.${key} is required`);
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [key, v] of Object.entries(record)) {
      if (properties[key]) validate(properties[key], v, `${where}.${key}`, problems, strict);
      else if (strict || schema.additionalProperties === false) problems.push(`${where}.${key} is not a property GitHub knows`);
    }
  }
}

function typeMatches(type: string, value: unknown): boolean {
  switch (type) {
    case 'string': return typeof value === 'string';
    case 'boolean': return typeof value === 'boolean';
    case 'integer': return Number.isInteger(value);
    case 'number': return typeof value === 'number';
    case 'array': return Array.isArray(value);
    case 'object': return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'null': return value === null;
    default: return false;
  }
}

// ---------------------------------------------------------------- in-memory GitHub

type GitObject =
  | { type: 'blob'; content: Buffer }
  | { type: 'tree'; entries: { name: string; mode: string; sha: string }[] }
  | { type: 'commit'; tree: string; parents: string[]; message: string; author: { name: string; email: string; date: string } };

interface Recorded {
  method: string;
  url: URL;
  body: unknown;
  operationId?: string;
  status: number;
  problems: string[];
}

const API = 'https://api.github.com';
const OWNER = 'cmp-dev';
const REPO = 'gitops';

class FakeGitHub {
  readonly objects = new Map<string, GitObject>();
  readonly refs = new Map<string, string>();
  readonly requests: Recorded[] = [];
  /** Runs once before the next updateRef is applied: lets a test move the branch underneath a commit. */
  beforeUpdateRef?: () => void;
  /** Answers the next N requests with 502, as GitHub does during an incident. */
  failNext = 0;

  constructor() {
    this.refs.set('heads/main', this.commit({ 'README.md': '# GitOps\n' }, [], 'Initial commit'));
  }

  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = (init?.method ?? 'GET').toUpperCase();
    const body = typeof init?.body === 'string' && init.body.length > 0 ? (JSON.parse(init.body) as unknown) : undefined;
    const { operation, problems } = checkRequest(method, url, body);
    const record: Recorded = { method, url, body, operationId: operation?.operationId, status: 0, problems };
    this.requests.push(record);
    let status: number;
    let answer: unknown;
    if (problems.length > 0 || !operation) {
      [status, answer] = [404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }];
    } else if (this.failNext > 0) {
      this.failNext--;
      [status, answer] = [502, { message: 'Server Error' }];
    } else {
      [status, answer] = this.answer(operation.operationId, url, body as Record<string, any>);
      if (status !== 502) record.problems.push(...checkResponse(operation, method, status, answer));
    }
    record.status = status;
    return new Response(JSON.stringify(answer), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
  };

  private answer(operationId: string, url: URL, body: Record<string, any>): [number, unknown] {
    const param = (i: number) => decodeURIComponent(url.pathname.split('/')[i]!);
    const rest = (from: number) => decodeURIComponent(url.pathname.split('/').slice(from).join('/'));
    if (param(2) !== OWNER || param(3) !== REPO) return notFound();
    switch (operationId) {
      case 'git/get-ref': {
        const ref = rest(6);
        const sha = this.refs.get(ref);
        return sha ? [200, this.refJson(ref, sha)] : notFound();
      }
      case 'git/get-commit': {
        const sha = param(6);
        const commit = this.objects.get(sha);
        return commit?.type === 'commit' ? [200, this.commitJson(sha)] : notFound();
      }
      case 'git/create-tree': {
        const files = body.base_tree ? this.flatten(body.base_tree as string) : new Map<string, string>();
        for (const entry of body.tree as { path: string; sha?: string | null; content?: string }[]) {
          if (entry.content !== undefined && entry.sha !== undefined) return unprocessable('Use either sha or content, not both');
          if (entry.content !== undefined) files.set(entry.path, this.put({ type: 'blob', content: Buffer.from(entry.content, 'utf8') }));
          else if (entry.sha === null) {
            if (!files.delete(entry.path)) return unprocessable('GitRPC::BadObjectState');
          } else if (entry.sha) files.set(entry.path, entry.sha);
        }
        const sha = this.buildTree(files);
        const tree = [...files].map(([path, blob]) => ({ path, mode: '100644', type: 'blob', sha: blob, size: this.blob(blob).length, url: `${API}/repos/${OWNER}/${REPO}/git/blobs/${blob}` }));
        return [201, { sha, url: `${API}/repos/${OWNER}/${REPO}/git/trees/${sha}`, tree, truncated: false }];
      }
      case 'git/create-commit': {
        if (this.objects.get(body.tree as string)?.type !== 'tree') return unprocessable('Tree SHA does not exist');
        const author = { name: body.author?.name ?? 'octocat', email: body.author?.email ?? 'octocat@github.com', date: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
        const sha = this.put({ type: 'commit', tree: body.tree as string, parents: (body.parents ?? []) as string[], message: body.message as string, author });
        return [201, this.commitJson(sha)];
      }
      case 'git/update-ref': {
        const ref = rest(6);
        const hook = this.beforeUpdateRef;
        this.beforeUpdateRef = undefined;
        hook?.();
        const current = this.refs.get(ref);
        if (!current) return unprocessable('Reference does not exist');
        if (!body.force && !this.isAncestor(current, body.sha as string)) return unprocessable('Update is not a fast forward');
        this.refs.set(ref, body.sha as string);
        return [200, this.refJson(ref, body.sha as string)];
      }
      case 'repos/get-content': {
        const path = rest(5);
        const ref = url.searchParams.get('ref') ?? 'main';
        const commitSha = this.refs.get(`heads/${ref}`) ?? ref;
        const commit = this.objects.get(commitSha);
        if (commit?.type !== 'commit') return notFound();
        const blob = this.flatten(commit.tree).get(path);
        if (!blob) return notFound();
        const content = this.blob(blob);
        const self = `${API}/repos/${OWNER}/${REPO}/contents/${path}?ref=${ref}`;
        const html = `https://github.com/${OWNER}/${REPO}/blob/${ref}/${path}`;
        const git = `${API}/repos/${OWNER}/${REPO}/git/blobs/${blob}`;
        return [200, {
          type: 'file', encoding: 'base64', size: content.length, name: path.split('/').pop(), path, content: content.toString('base64'), sha: blob,
          url: self, git_url: git, html_url: html, download_url: `https://raw.githubusercontent.com/${OWNER}/${REPO}/${ref}/${path}`,
          _links: { self, git, html },
        }];
      }
      default:
        return [501, { message: `the fake does not implement ${operationId}` }];
    }
  }

  // -- git objects, hashed exactly as git hashes them
  put(object: GitObject): string {
    let payload: Buffer;
    if (object.type === 'blob') payload = object.content;
    else if (object.type === 'tree') {
      const sorted = [...object.entries].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
      payload = Buffer.concat(sorted.map((e) => Buffer.concat([Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.sha, 'hex')])));
    } else {
      const when = `${Math.floor(Date.parse(object.author.date) / 1000)} +0000`;
      const who = `${object.author.name} <${object.author.email}> ${when}`;
      payload = Buffer.from(`tree ${object.tree}\n${object.parents.map((p) => `parent ${p}\n`).join('')}author ${who}\ncommitter ${who}\n\n${object.message}`);
    }
    const sha = crypto.createHash('sha1').update(Buffer.concat([Buffer.from(`${object.type} ${payload.length}\0`), payload])).digest('hex');
    this.objects.set(sha, object);
    return sha;
  }

  commit(files: Record<string, string>, parents: string[], message: string): string {
    const map = new Map(Object.entries(files).map(([p, c]) => [p, this.put({ type: 'blob', content: Buffer.from(c) })]));
    return this.put({ type: 'commit', tree: this.buildTree(map), parents, message, author: { name: 'Someone', email: 'someone@example.test', date: new Date().toISOString() } });
  }

  buildTree(files: Map<string, string>): string {
    const here = new Map<string, string>();
    const below = new Map<string, Map<string, string>>();
    for (const [path, sha] of files) {
      const [head, ...tail] = path.split('/');
      if (tail.length === 0) here.set(head!, sha);
      else {
        if (!below.has(head!)) below.set(head!, new Map());
        below.get(head!)!.set(tail.join('/'), sha);
      }
    }
    const entries = [
      ...[...here].map(([name, sha]) => ({ name, mode: '100644', sha })),
      ...[...below].map(([name, sub]) => ({ name, mode: '40000', sha: this.buildTree(sub) })),
    ];
    return this.put({ type: 'tree', entries });
  }

  flatten(treeSha: string, prefix = ''): Map<string, string> {
    const tree = this.objects.get(treeSha);
    if (tree?.type !== 'tree') throw new Error(`no tree ${treeSha}`);
    const files = new Map<string, string>();
    for (const e of tree.entries) {
      if (e.mode === '40000') for (const [p, s] of this.flatten(e.sha, `${prefix}${e.name}/`)) files.set(p, s);
      else files.set(`${prefix}${e.name}`, e.sha);
    }
    return files;
  }

  blob(sha: string): Buffer {
    const blob = this.objects.get(sha);
    if (blob?.type !== 'blob') throw new Error(`no blob ${sha}`);
    return blob.content;
  }

  isAncestor(ancestor: string, of: string): boolean {
    const seen = new Set<string>();
    const queue = [of];
    while (queue.length) {
      const sha = queue.shift()!;
      if (sha === ancestor) return true;
      if (seen.has(sha)) continue;
      seen.add(sha);
      const commit = this.objects.get(sha);
      if (commit?.type === 'commit') queue.push(...commit.parents);
    }
    return false;
  }

  filesAt(ref = 'heads/main'): Record<string, string> {
    const commit = this.objects.get(this.refs.get(ref)!) as Extract<GitObject, { type: 'commit' }>;
    return Object.fromEntries([...this.flatten(commit.tree)].map(([p, s]) => [p, this.blob(s).toString('utf8')]));
  }

  commitCount(ref = 'heads/main'): number {
    let count = 0;
    for (let sha: string | undefined = this.refs.get(ref); sha; count++) sha = (this.objects.get(sha) as Extract<GitObject, { type: 'commit' }>).parents[0];
    return count;
  }

  private refJson(ref: string, sha: string) {
    return {
      ref: `refs/${ref}`,
      node_id: Buffer.from(`ref:${ref}`).toString('base64'),
      url: `${API}/repos/${OWNER}/${REPO}/git/refs/${ref}`,
      object: { type: 'commit', sha, url: `${API}/repos/${OWNER}/${REPO}/git/commits/${sha}` },
    };
  }

  private commitJson(sha: string) {
    const c = this.objects.get(sha) as Extract<GitObject, { type: 'commit' }>;
    return {
      sha,
      node_id: Buffer.from(`commit:${sha}`).toString('base64'),
      url: `${API}/repos/${OWNER}/${REPO}/git/commits/${sha}`,
      html_url: `https://github.com/${OWNER}/${REPO}/commit/${sha}`,
      author: c.author,
      committer: c.author,
      message: c.message,
      tree: { sha: c.tree, url: `${API}/repos/${OWNER}/${REPO}/git/trees/${c.tree}` },
      parents: c.parents.map((p) => ({ sha: p, url: `${API}/repos/${OWNER}/${REPO}/git/commits/${p}`, html_url: `https://github.com/${OWNER}/${REPO}/commit/${p}` })),
      verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
    };
  }
}

const sortKey = (e: { name: string; mode: string }) => (e.mode === '40000' ? `${e.name}/` : e.name);
const notFound = (): [number, unknown] => [404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' }];
const unprocessable = (message: string): [number, unknown] => [422, { message, documentation_url: 'https://docs.github.com/rest' }];

// ---------------------------------------------------------------- tests

let github: FakeGitHub;
let repo: GitHubRepo;

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

beforeEach(() => {
  github = new FakeGitHub();
  const octokit = new Octokit({ auth: 'test-token', request: { fetch: github.fetch }, log: quiet });
  repo = new GitHubRepo({ octokit, owner: OWNER, repo: REPO, branch: 'main' });
});

/** Every request GitHub received was one GitHub has, well formed, and every answer matched the description. */
function expectAllRequestsValid(): void {
  expect(github.requests.length).toBeGreaterThan(0);
  for (const r of github.requests) expect(r.problems, `${r.method} ${r.url.pathname}`).toEqual([]);
}

const operations = () => github.requests.map((r) => r.operationId);

describe('the OpenAPI check itself', () => {
  it('refuses calls GitHub does not have and bodies GitHub would reject', () => {
    const u = (p: string) => new URL(`${API}${p}`);
    expect(checkRequest('POST', u('/repos/o/r/git/squash'), {}).problems[0]).toMatch(/no operation/);
    expect(checkRequest('DELETE', u('/repos/o/r/git/commits'), undefined).problems[0]).toMatch(/no operation/);
    expect(checkRequest('PATCH', u('/repos/o/r/git/refs/heads%2Fmain'), { force: false }).problems).toContain('body.sha is required');
    expect(checkRequest('PATCH', u('/repos/o/r/git/refs/heads%2Fmain'), { sha: 'abc', force: 'no' }).problems[0]).toMatch(/body.force must be boolean/);
    expect(checkRequest('POST', u('/repos/o/r/git/trees'), { tree: [{ path: 'a', mode: '100600', type: 'blob', content: 'x' }] }).problems[0]).toMatch(/mode must be one of/);
    expect(checkRequest('POST', u('/repos/o/r/git/commits'), { message: 'm', tree: 't', branch: 'main' }).problems).toContain('body.branch is not a property GitHub knows');
    expect(checkRequest('GET', u('/repos/o/r/contents/a%2Fb?ref=main&depth=1'), undefined).problems).toEqual(['undeclared query parameter depth']);
    expect(checkRequest('POST', u('/repos/o/r/git/trees'), { tree: [{ path: 'a', mode: '100644', type: 'blob', sha: null }] }).problems).toEqual([]);
  });

  it('refuses answers GitHub would never give', () => {
    const getRef = { operationId: 'git/get-ref', template: '/repos/{owner}/{repo}/git/ref/{ref}' };
    expect(checkResponse(getRef, 'GET', 200, { ref: 'refs/heads/main' })).toEqual(expect.arrayContaining(['response.object is required']));
    expect(checkResponse(getRef, 'GET', 201, {})).toEqual(['git/get-ref never answers 201']);
  });

  it('hashes objects as git does, so the fake SHAs are real ones', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-fake-git-'));
    try {
      execFileSync('git', ['init', '--quiet', '--bare', dir]);
      const git = (args: string[], input?: string) => execFileSync('git', ['--git-dir', dir, ...args], { input, encoding: 'utf8' }).trim();
      const fake = new FakeGitHub();
      const files = new Map([['README.md', 'hello\n'], ['tenants/o/i.yaml', 'a: 1\n'], ['tenants-x', 'x']]);
      const blobs = new Map([...files].map(([p, c]) => [p, fake.put({ type: 'blob', content: Buffer.from(c) })]));
      for (const [p, c] of files) expect(git(['hash-object', '-w', '--stdin'], c)).toBe(blobs.get(p));
      const inner = git(['mktree'], `100644 blob ${blobs.get('tenants/o/i.yaml')}\ti.yaml\n`);
      const middle = git(['mktree'], `040000 tree ${inner}\to\n`);
      const root = git(['mktree'], `100644 blob ${blobs.get('README.md')}\tREADME.md\n040000 tree ${middle}\ttenants\n100644 blob ${blobs.get('tenants-x')}\ttenants-x\n`);
      expect(fake.buildTree(blobs)).toBe(root);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('GitHubRepo over the git-data API', () => {
  it('commits several files in one commit through getRef → getCommit → createTree → createCommit → updateRef', async () => {
    const before = await repo.headSha();
    github.requests.length = 0;
    const result = await repo.commitFiles({
      message: 'Provision instance i-1',
      files: { 'tenants/o-1/instances/i-1.yaml': 'kind: AgentInstance\n', 'tenants/o-1/org.yaml': 'org: o-1\n' },
      author: { name: 'Ada', email: 'ada@example.test' },
    });
    expect(result.changed).toBe(true);
    expect(github.refs.get('heads/main')).toBe(result.sha);
    expect(operations()).toEqual(['git/get-ref', 'git/get-commit', 'git/create-tree', 'git/create-commit', 'git/update-ref']);
    const update = github.requests.at(-1)!;
    expect(update.body).toEqual({ sha: result.sha, force: false });
    const created = github.requests.find((r) => r.operationId === 'git/create-commit')!.body as Record<string, unknown>;
    expect(created).toMatchObject({ message: 'Provision instance i-1', parents: [before], author: { name: 'Ada', email: 'ada@example.test' } });
    expect(github.filesAt()).toEqual({ 'README.md': '# GitOps\n', 'tenants/o-1/instances/i-1.yaml': 'kind: AgentInstance\n', 'tenants/o-1/org.yaml': 'org: o-1\n' });
    expect(github.commitCount()).toBe(2);
    expect(await repo.readFile('tenants/o-1/org.yaml')).toBe('org: o-1\n');
    expect(await repo.readFile('tenants/o-1/missing.yaml')).toBeNull();
    expectAllRequestsValid();
  });

  it('makes no commit when the tree would not change', async () => {
    const files = { 'tenants/o/instances/i.yaml': 'v: 1\n' };
    const first = await repo.commitFiles({ message: 'first', files });
    github.requests.length = 0;
    const again = await repo.commitFiles({ message: 'again', files });
    expect(again).toEqual({ sha: first.sha, changed: false });
    expect(operations()).not.toContain('git/create-commit');
    expect(operations()).not.toContain('git/update-ref');
    expect(github.commitCount()).toBe(2);
    expectAllRequestsValid();
  });

  it('deletes files with sha: null, and skips deleting files that are not there', async () => {
    await repo.commitFiles({ message: 'add', files: { 'a/b.yaml': 'b\n', 'a/c.yaml': 'c\n' } });
    const removed = await repo.commitFiles({ message: 'remove b', files: { 'a/b.yaml': null, 'a/never.yaml': null } });
    expect(removed.changed).toBe(true);
    const tree = github.requests.filter((r) => r.operationId === 'git/create-tree').at(-1)!.body as { tree: unknown[] };
    expect(tree.tree).toEqual([{ path: 'a/b.yaml', mode: '100644', type: 'blob', sha: null }]);
    expect(github.filesAt()).toEqual({ 'README.md': '# GitOps\n', 'a/c.yaml': 'c\n' });

    github.requests.length = 0;
    expect(await repo.commitFiles({ message: 'remove b again', files: { 'a/b.yaml': null } })).toEqual({ sha: removed.sha, changed: false });
    expect(operations()).not.toContain('git/create-tree');
    expectAllRequestsValid();
  });

  it('retries the whole round when the branch moved before updateRef (not a fast forward), losing nothing', async () => {
    github.beforeUpdateRef = () => {
      // Another writer lands a commit between our getRef and our updateRef.
      const head = github.refs.get('heads/main')!;
      const files = { ...github.filesAt(), 'tenants/other/instances/x.yaml': 'x\n' };
      github.refs.set('heads/main', github.commit(files, [head], 'Someone else'));
    };
    const result = await repo.commitFiles({ message: 'ours', files: { 'tenants/o/instances/i.yaml': 'i\n' } });
    expect(result.changed).toBe(true);
    const updates = github.requests.filter((r) => r.operationId === 'git/update-ref');
    expect(updates.map((r) => r.status)).toEqual([422, 200]);
    expect(operations().filter((o) => o === 'git/get-ref')).toHaveLength(2);
    expect(github.filesAt()).toMatchObject({ 'tenants/other/instances/x.yaml': 'x\n', 'tenants/o/instances/i.yaml': 'i\n' });
    expect(github.commitCount()).toBe(3);
    expectAllRequestsValid();
  });

  it('gives up with a retryable error when the branch keeps moving', async () => {
    let moves = 0;
    const racingFetch: typeof github.fetch = async (input, init) => {
      if (init?.method === 'PATCH') {
        const head = github.refs.get('heads/main')!;
        github.refs.set('heads/main', github.commit({ ...github.filesAt(), [`race-${moves++}.txt`]: 'r' }, [head], 'race'));
      }
      return github.fetch(input, init);
    };
    const octokit = new Octokit({ auth: 'test-token', request: { fetch: racingFetch }, log: quiet });
    const stubborn = new GitHubRepo({ octokit, owner: OWNER, repo: REPO, maxAttempts: 3 });
    await expect(stubborn.commitFiles({ message: 'm', files: { 'f.yaml': 'f' } })).rejects.toBeInstanceOf(GitOpsUnavailableError);
    expect(moves).toBe(3);
    expectAllRequestsValid();
  });

  it('sorts GitHub failures into retryable (5xx) and refused (4xx)', async () => {
    github.failNext = 1;
    await expect(repo.headSha()).rejects.toMatchObject({ name: 'GitOpsUnavailableError', retryable: true, upstreamStatus: 502 });
    const missingRepo = new GitHubRepo({ octokit: new Octokit({ request: { fetch: github.fetch }, log: quiet }), owner: OWNER, repo: 'nope' });
    await expect(missingRepo.commitFiles({ message: 'm', files: { 'f.yaml': 'f' } })).rejects.toMatchObject({ name: 'GitOpsRejectedError', retryable: false, upstreamStatus: 404 });
    await expect(repo.commitFiles({ message: 'm', files: { '../escape.yaml': 'x' } })).rejects.toBeInstanceOf(GitOpsRejectedError);
    expectAllRequestsValid();
  });

  it('commits an instance manifest once; the same instance again changes nothing', async () => {
    const manifest = instanceManifest({
      orgId: 'org-1', instanceId: 'inst-1', offeringSlug: 'summarizer', version: '1.2.0', plan: 'pro', runtimeFlowId: 'flow-9', secretsPath: 'cmp/orgs/org-1/instances/inst-1',
    });
    const first = await repo.commitFiles({ message: 'Provision inst-1', files: { [manifest.path]: manifest.content } });
    const second = await repo.commitFiles({ message: 'Provision inst-1', files: { [manifest.path]: manifest.content } });
    expect(second).toEqual({ sha: first.sha, changed: false });
    expect(github.filesAt()[manifest.path]).toBe(manifest.content);
    expectAllRequestsValid();
  });
});
