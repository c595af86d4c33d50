// Renders deploy/observability/rules/*.yml as the PrometheusRule the
// Kubernetes base deploys (Prometheus Operator), so the cluster evaluates the
// very rules promtool tests. test/unit/observability-rules.test.ts fails when
// the committed file differs from what this renders:
//   node deploy/observability/render-k8s.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
export const rulesDir = path.join(here, 'rules');
export const target = path.resolve(here, '../k8s/base/observability/prometheus-rules.yaml');

export function renderPrometheusRule() {
  const groups = fs.readdirSync(rulesDir).filter((f) => f.endsWith('.yml')).sort()
    .flatMap((f) => parse(fs.readFileSync(path.join(rulesDir, f), 'utf8')).groups);
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'cmp', namespace: 'observability', labels: { 'app.kubernetes.io/name': 'cmp-rules', release: 'kube-prometheus-stack' } },
    spec: { groups },
  };
  return `# Generated from deploy/observability/rules by deploy/observability/render-k8s.mjs; do not edit.\n${stringify(rule, { lineWidth: 0 })}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(target, renderPrometheusRule());
  console.log(`wrote ${path.relative(process.cwd(), target)}`);
}
