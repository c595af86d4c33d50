// The configuration: local defaults load, bad values name their variable, and
// .env.example documents every variable the schema knows.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configObject, loadConfig, SANDBOX_SECRETS } from '../../core/config';

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

  it('in production, refuses every sandbox default secret and names each one', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ NODE_ENV: 'production', ...env });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    // Nothing set: every sandbox secret is named, not just the first, and mail has nowhere to go.
    const unset = [...SANDBOX_SECRETS, 'SMTP_URL'].sort();
    expect(problems({}).map((p) => p.split(':')[0]).sort()).toEqual(unset);
    // .env.example's dev values are refused the same way.
    const text = fs.readFileSync(path.resolve(import.meta.dirname, '../../.env.example'), 'utf8');
    const example = Object.fromEntries(text.split('\n').filter((l) => /^[A-Z0-9_]+=./.test(l)).map((l) => [l.split('=')[0]!, l.slice(l.indexOf('=') + 1)]));
    expect(problems({ ...example, NODE_ENV: 'production' }).map((p) => p.split(':')[0]).sort()).toEqual(unset);
    // One left at its default is still named.
    const real = { ...Object.fromEntries(SANDBOX_SECRETS.map((k) => [k, `prod-${k.toLowerCase()}-${'x'.repeat(32)}`])), SMTP_URL: 'smtp://mailer:secret@smtp.example.com:587' };
    expect(problems(real)).toEqual([]);
    expect(problems({ ...real, LANGFLOW_API_KEY: 'cmp-dev-langflow-key' })).toEqual(['LANGFLOW_API_KEY: is a sandbox default; production needs its own secret']);
    // Development keeps its defaults.
    expect(() => loadConfig({})).not.toThrow();
  });

  it('documents every variable in .env.example, and .env.example parses', () => {
    const text = fs.readFileSync(path.resolve(import.meta.dirname, '../../.env.example'), 'utf8');
    const documented = new Map(text.split('\n').filter((l) => /^[A-Z0-9_]+=/.test(l)).map((l) => [l.split('=')[0]!, l.slice(l.indexOf('=') + 1)]));
    const shape = configObject.shape;
    expect([...documented.keys()].sort()).toEqual(Object.keys(shape).sort());
    expect(() => loadConfig(Object.fromEntries(documented))).not.toThrow();
  });
});
