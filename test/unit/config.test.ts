// The configuration: local defaults load, bad values name their variable, and
// .env.example documents every variable the schema knows.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configObject, loadConfig } from '../../core/config';

describe('configuration', () => {
  it('loads with the local defaults', () => {
    const c = loadConfig({});
    expect(c.DATABASE_URL).toContain('127.0.0.1');
    expect(c.STARTER_CREDITS).toBe(100);
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ API_PORT: 'eighty', DATABASE_URL: 'not a url' })).toThrow(ConfigError);
    try {
      loadConfig({ API_PORT: 'eighty', DATABASE_URL: 'not a url' });
    } catch (err) {
      expect((err as ConfigError).problems.join('\n')).toMatch(/API_PORT/);
      expect((err as ConfigError).problems.join('\n')).toMatch(/DATABASE_URL/);
    }
  });

  it('requires the GitHub settings in github mode and a real secret in production', () => {
    expect(() => loadConfig({ GITOPS_MODE: 'github' })).toThrow(/GITHUB_TOKEN/);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/SIGNING_SECRET/);
  });

  it('documents every variable in .env.example, and .env.example parses', () => {
    const text = fs.readFileSync(path.resolve(import.meta.dirname, '../../.env.example'), 'utf8');
    const documented = new Map(text.split('\n').filter((l) => /^[A-Z0-9_]+=/.test(l)).map((l) => [l.split('=')[0]!, l.slice(l.indexOf('=') + 1)]));
    const shape = configObject.shape;
    expect([...documented.keys()].sort()).toEqual(Object.keys(shape).sort());
    expect(() => loadConfig(Object.fromEntries(documented))).not.toThrow();
  });
});
