// The alert and recording rules, checked and unit-tested by promtool (every
// alert has series that fire it and series that do not:
// deploy/observability/tests), and the PrometheusRule that Kubernetes deploys
// is exactly what deploy/observability/render-k8s.mjs renders from them.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderPrometheusRule, target } from '../../deploy/observability/render-k8s.mjs';

const dir = path.resolve(import.meta.dirname, '../../deploy/observability');
const rules = fs.readdirSync(path.join(dir, 'rules')).filter((f) => f.endsWith('.yml')).map((f) => path.join(dir, 'rules', f));

function promtool(args: string[]) {
  const r = spawnSync('promtool', args, { encoding: 'utf8', cwd: dir });
  if (r.error) throw new Error(`promtool is missing (Debian package "prometheus"; npm test installs it): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('alerting and recording rules', () => {
  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', ...rules]);
    expect(r.output).not.toContain('FAILED');
    expect(r.status, r.output).toBe(0);
  });

  it('pass their promtool unit tests, and every alert has one', () => {
    const r = promtool(['test', 'rules', path.join(dir, 'tests/cmp-alerts.test.yml')]);
    expect(r.status, r.output).toBe(0);
    const alerts = rules.flatMap((f) => (parse(fs.readFileSync(f, 'utf8')) as { groups: { rules: { alert?: string }[] }[] }).groups)
      .flatMap((g) => g.rules).flatMap((rule) => (rule.alert ? [rule.alert] : []));
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    const tests = fs.readFileSync(path.join(dir, 'tests/cmp-alerts.test.yml'), 'utf8');
    for (const alert of alerts) {
      // Each alert is evaluated where it fires (exp_alerts with labels) and where it must not (exp_alerts: []).
      const blocks = tests.split(`alertname: ${alert}\n`).slice(1).map((b) => b.trimStart());
      expect(blocks.some((b) => b.startsWith('exp_alerts: []')), `${alert} has no test where it must not fire`).toBe(true);
      expect(blocks.some((b) => b.startsWith('exp_alerts:\n')), `${alert} has no test where it fires`).toBe(true);
    }
  }, 60_000); // promtool evaluates days of series for the slow-burn alert

  it('are what the Kubernetes PrometheusRule deploys', () => {
    expect(fs.readFileSync(target, 'utf8'), 'run: node deploy/observability/render-k8s.mjs').toBe(renderPrometheusRule());
  });
});
