// The deployment description stays in step with the code: every config variable is set in the
// cluster, every reference resolves, compose's services exist (deploy/k8s/validate.mjs; offline).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('deployment manifests', () => {
  it('render and cross-check: every variable of core/config.ts is set by cmp-config or cmp-secrets', () => {
    let output = '';
    let status = 0;
    try {
      output = execFileSync('node', [path.resolve(import.meta.dirname, '../../deploy/k8s/validate.mjs')], { encoding: 'utf8' });
    } catch (err) {
      const e = err as { status: number; stdout: string };
      status = e.status;
      output = e.stdout;
    }
    expect(output.split('\n').filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(status).toBe(0);
    expect(output).toMatch(/^ok {3}compose\.yaml/m);
  });
});
