// The dev provider's keys are made once and then read back, so tokens it
// signed stay valid across restarts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateKeys } from '../../deploy/local/oidc/keys';
import { storeOrigins } from '../../deploy/local/oidc/provider';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('loadOrCreateKeys', () => {
  it('creates an RS256 signing key and a cookie key once, then returns the same ones', async () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-oidc-keys-')), 'nested');
    dirs.push(path.dirname(dir));
    const first = await loadOrCreateKeys(dir);
    expect(first.signingKeys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(first.signingKeys[0]!.d).toBeTruthy();
    expect(first.signingKeys[0]!.kid).toBeTruthy();
    expect(first.cookieKeys[0]!.length).toBeGreaterThanOrEqual(32);
    expect(fs.statSync(path.join(dir, 'keys.json')).mode & 0o777).toBe(0o600);

    const again = await loadOrCreateKeys(dir);
    expect(again).toEqual(first);
  });
});

describe('storeOrigins', () => {
  it('covers dev and every test slot web port on both loopback names, plus extras once', () => {
    const origins = storeOrigins(['http://127.0.0.1:13020', 'https://store.example.test']);
    for (const port of [3000, 13000, 13200, 13900]) {
      expect(origins).toContain(`http://127.0.0.1:${port}`);
      expect(origins).toContain(`http://localhost:${port}`);
    }
    expect(origins.filter((o) => o === 'http://127.0.0.1:13020')).toHaveLength(1);
    expect(origins).toContain('https://store.example.test');
  });
});
