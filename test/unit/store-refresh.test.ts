// The store's token refresh against a fake token endpoint that, like the realm
// (revokeRefreshToken, refreshTokenMaxReuse 0), honours each refresh token once:
// concurrent requests of one session must share one grant, or all but one are
// refused and the store signs the user out.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../deploy/local/stack';

// Vite compiles web/ code with web/tsconfig.json, which extends the one `svelte-kit sync` writes (npm test's web
// typecheck runs it first; a fresh clone running this file alone has not).
if (!fs.existsSync(path.join(repoRoot, 'web/.svelte-kit/tsconfig.json'))) {
  execFileSync(path.join(repoRoot, 'node_modules/.bin/svelte-kit'), ['sync'], { cwd: path.join(repoRoot, 'web'), stdio: 'ignore' });
}
const { refreshShared } = await import('../../web/src/lib/server/tokens');

let server: http.Server;
let config: client.Configuration;
const grants: string[] = [];
const used = new Set<string>();
let failNext = false;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('refresh_token')!;
      grants.push(token);
      const answer = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(json));
      };
      // Slow enough that the concurrent requests all arrive while the first grant is running.
      setTimeout(() => {
        if (failNext) {
          failNext = false;
          return answer(503, { error: 'temporarily_unavailable' });
        }
        if (used.has(token)) return answer(400, { error: 'invalid_grant', error_description: 'Maximum allowed refresh token reuse exceeded' });
        used.add(token);
        answer(200, { access_token: `access-for-${token}`, token_type: 'Bearer', expires_in: 300, refresh_token: `${token}-next` });
      }, 50);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  config = new client.Configuration({ issuer: base, token_endpoint: `${base}/token` }, 'cmp-store', 'secret');
  client.allowInsecureRequests(config);
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('store token refresh', () => {
  it('makes one grant for concurrent requests with the same refresh token, and all get the new tokens', async () => {
    grants.length = 0;
    const results = await Promise.all(Array.from({ length: 5 }, () => refreshShared(config, 'rt-1')));
    expect(grants).toEqual(['rt-1']);
    for (const r of results) expect(r).toMatchObject({ accessToken: 'access-for-rt-1', refreshToken: 'rt-1-next' });
    // A request that still carried the old cookie a moment later gets the same outcome, not a refusal.
    await expect(refreshShared(config, 'rt-1')).resolves.toMatchObject({ accessToken: 'access-for-rt-1' });
    expect(grants).toEqual(['rt-1']);
    // The next token is a grant of its own.
    await refreshShared(config, 'rt-1-next');
    expect(grants).toEqual(['rt-1', 'rt-1-next']);
  });

  it('does not keep a failed refresh: the next request tries again', async () => {
    grants.length = 0;
    failNext = true;
    const failed = await Promise.allSettled([refreshShared(config, 'rt-2'), refreshShared(config, 'rt-2')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(refreshShared(config, 'rt-2')).resolves.toMatchObject({ accessToken: 'access-for-rt-2' });
    expect(grants).toEqual(['rt-2', 'rt-2']);
  });
});
