// Offline checks of the deployment description (no cluster, no Docker daemon):
//   node deploy/k8s/validate.mjs
// 1. every YAML file under deploy/k8s, deploy/helm and deploy/compose parses;
// 2. `kubectl kustomize` renders the base and each overlay (when kubectl is on PATH);
// 3. cross-references inside each rendered overlay: selectors match pod labels,
//    Services/HPAs/PDBs point at Deployments, env refs name existing ConfigMap
//    keys and ExternalSecret keys, IngressRoutes use a Certificate's secret of
//    their namespace and a Service that exists (or a Helm release's, listed);
// 4. every variable of core/config.ts is set by cmp-config or cmp-secrets
//    (dev-only ones excepted);
// 5. compose.yaml: services reference existing services, volumes and configs.
// Exits 1 listing every problem. It cannot check CRD schemas or images.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const deployDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(deployDir, '..');
const problems = [];
const ok = [];

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}

function parseYaml(text, where) {
  const docs = parseAllDocuments(text, { merge: true });
  const out = [];
  for (const doc of docs) {
    for (const err of doc.errors) problems.push(`${where}: ${err.message}`);
    const value = doc.toJS({ maxAliasCount: -1 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

// 1. Parse every YAML file.
const yamlFiles = ['k8s', 'helm', 'compose'].flatMap((d) => walk(path.join(deployDir, d))).filter((f) => /\.ya?ml$/.test(f));
for (const file of yamlFiles) parseYaml(fs.readFileSync(file, 'utf8'), path.relative(repoRoot, file));
ok.push(`${yamlFiles.length} YAML files parse`);

// Services that Helm releases create (deploy/helm/*.values.yaml), by namespace, with ports.
const helmServices = {
  temporal: { 'temporal-frontend': [7233], 'temporal-web': [8080] },
  sso: { 'keycloak-http': [80] },
  runtime: { 'langflow-runtime': [7860] },
  storage: { minio: [9000] },
  // Installed outside this repository: the Langflow IDE for publishers and the retrieval service.
  studio: { 'langflow-studio': [8080] },
  rag: { rag: [80] },
};

// 2 + 3. Render and cross-check each kustomization.
let kubectl = true;
try {
  execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
} catch {
  kubectl = false;
  problems.push('kubectl not found: kustomizations not rendered');
}

function checkRendered(name, docs) {
  const key = (d) => `${d.kind}/${d.metadata?.namespace ?? ''}/${d.metadata?.name}`;
  const byKey = new Map(docs.map((d) => [key(d), d]));
  const seen = new Set();
  for (const d of docs) {
    if (seen.has(key(d))) problems.push(`${name}: duplicate ${key(d)}`);
    seen.add(key(d));
  }
  const find = (kind, ns, n) => byKey.get(`${kind}/${ns ?? ''}/${n}`);
  const workloads = docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job');
  const esKeys = (ns, n) => {
    const es = find('ExternalSecret', ns, n);
    if (!es) return null;
    return new Set(Object.keys(es.spec.target?.template?.data ?? {}).length
      ? Object.keys(es.spec.target.template.data)
      : (es.spec.data ?? []).map((x) => x.secretKey));
  };
  for (const w of workloads) {
    const ns = w.metadata.namespace;
    const pod = w.spec.template;
    const labels = pod.metadata?.labels ?? {};
    if (w.kind === 'Deployment') {
      for (const [k, v] of Object.entries(w.spec.selector.matchLabels)) {
        if (labels[k] !== v) problems.push(`${name}: ${key(w)} selector ${k}=${v} does not match its pod labels`);
      }
    }
    for (const c of pod.spec.containers) {
      if (!c.resources?.requests || !c.resources?.limits?.memory) problems.push(`${name}: ${key(w)} container ${c.name} lacks requests or a memory limit`);
      if (c.command) problems.push(`${name}: ${key(w)} sets command (would bypass tini); use args`);
      for (const ref of c.envFrom ?? []) {
        if (ref.configMapRef && !find('ConfigMap', ns, ref.configMapRef.name)) problems.push(`${name}: ${key(w)} envFrom missing ConfigMap ${ref.configMapRef.name}`);
      }
      for (const e of c.env ?? []) {
        const s = e.valueFrom?.secretKeyRef;
        if (s) {
          const keys = esKeys(ns, s.name);
          if (!keys) problems.push(`${name}: ${key(w)} env ${e.name} names Secret ${s.name}, which no ExternalSecret in ${ns} creates`);
          else if (!keys.has(s.key)) problems.push(`${name}: ${key(w)} env ${e.name} names key ${s.key}, absent from ExternalSecret ${s.name}`);
        }
      }
      for (const m of c.volumeMounts ?? []) {
        if (!(pod.spec.volumes ?? []).some((v) => v.name === m.name)) problems.push(`${name}: ${key(w)} mounts unknown volume ${m.name}`);
      }
      if (w.kind === 'Deployment' && c.securityContext?.readOnlyRootFilesystem && !(c.volumeMounts ?? []).some((m) => m.mountPath === '/tmp')) {
        problems.push(`${name}: ${key(w)} has a read-only root filesystem but no /tmp volume (tsx cache)`);
      }
    }
  }
  const deployments = docs.filter((d) => d.kind === 'Deployment');
  for (const s of docs.filter((d) => d.kind === 'Service' && d.spec.selector)) {
    const match = deployments.some((d) => d.metadata.namespace === s.metadata.namespace
      && Object.entries(s.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
    if (!match) problems.push(`${name}: ${key(s)} selects no Deployment`);
  }
  for (const h of docs.filter((d) => d.kind === 'HorizontalPodAutoscaler')) {
    const target = find('Deployment', h.metadata.namespace, h.spec.scaleTargetRef.name);
    if (!target) problems.push(`${name}: ${key(h)} targets a missing Deployment`);
    else if (target.spec.replicas < h.spec.minReplicas || target.spec.replicas > h.spec.maxReplicas || h.spec.minReplicas > h.spec.maxReplicas) {
      problems.push(`${name}: ${key(h)} bounds ${h.spec.minReplicas}..${h.spec.maxReplicas} do not hold the Deployment's ${target.spec.replicas} replicas`);
    }
  }
  for (const p of docs.filter((d) => d.kind === 'PodDisruptionBudget')) {
    const sel = p.spec.selector.matchLabels;
    if (!deployments.some((d) => d.metadata.namespace === p.metadata.namespace && Object.entries(sel).every(([k, v]) => d.spec.template.metadata.labels[k] === v))) {
      problems.push(`${name}: ${key(p)} selects no Deployment`);
    }
  }
  const certSecrets = new Set(docs.filter((d) => d.kind === 'Certificate').map((c) => `${c.metadata.namespace}/${c.spec.secretName}`));
  const certHosts = new Map(docs.filter((d) => d.kind === 'Certificate').map((c) => [`${c.metadata.namespace}/${c.spec.secretName}`, c.spec.dnsNames]));
  const routedHosts = new Set();
  for (const r of docs.filter((d) => d.kind === 'IngressRoute')) {
    const ns = r.metadata.namespace;
    const secret = `${ns}/${r.spec.tls?.secretName}`;
    if (!certSecrets.has(secret)) problems.push(`${name}: ${key(r)} uses TLS secret ${secret}, which no Certificate provides`);
    for (const route of r.spec.routes) {
      for (const host of route.match.matchAll(/Host\(`([^`]+)`\)/g)) {
        routedHosts.add(host[1]);
        if (!(certHosts.get(secret) ?? []).includes(host[1])) problems.push(`${name}: ${key(r)} host ${host[1]} is not in certificate ${secret}`);
      }
      for (const m of route.middlewares ?? []) {
        if (!find('Middleware', m.namespace ?? ns, m.name)) problems.push(`${name}: ${key(r)} uses missing Middleware ${m.name}`);
      }
      for (const svc of route.services) {
        const local = find('Service', ns, svc.name);
        const helmPorts = helmServices[ns]?.[svc.name];
        if (local) {
          if (!local.spec.ports.some((p) => p.port === svc.port)) problems.push(`${name}: ${key(r)} port ${svc.port} not on Service ${svc.name}`);
        } else if (!helmPorts) problems.push(`${name}: ${key(r)} routes to unknown Service ${ns}/${svc.name}`);
        else if (!helmPorts.includes(svc.port)) problems.push(`${name}: ${key(r)} port ${svc.port} not on Helm Service ${svc.name}`);
      }
    }
  }
  for (const sub of ['store', 'shop', 'www', 'api', 'cp', 'sso', 'studio', 'runtime', 'rag']) {
    if (!routedHosts.has(`${sub}.cmp.dev`)) problems.push(`${name}: no route for ${sub}.cmp.dev`);
  }
  const nsNames = new Set(docs.filter((d) => d.kind === 'Namespace').map((d) => d.metadata.name));
  for (const n of ['cmp', 'studio', 'runtime', 'rag', 'sso', 'vault', 'storage', 'db', 'observability']) {
    if (!nsNames.has(n)) problems.push(`${name}: namespace ${n} missing`);
  }
  for (const d of docs) {
    const ns = d.metadata?.namespace;
    if (ns && !nsNames.has(ns)) problems.push(`${name}: ${key(d)} is in namespace ${ns}, which the kustomization does not create`);
  }
  // 4. Configuration coverage.
  const configSrc = fs.readFileSync(path.join(repoRoot, 'core/config.ts'), 'utf8');
  const schemaBody = configSrc.slice(configSrc.indexOf('z.object({'), configSrc.indexOf('.superRefine'));
  const variables = [...schemaBody.matchAll(/^\s{2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]);
  // Read only by the local stack (its local GitOps repository), never by a deployed process.
  const devOnly = new Set(['GITOPS_LOCAL_REPO']);
  const config = find('ConfigMap', 'cmp', 'cmp-config')?.data ?? {};
  const secretKeys = esKeys('cmp', 'cmp-secrets') ?? new Set();
  for (const v of variables) {
    if (devOnly.has(v)) continue;
    if (!(v in config) && !secretKeys.has(v)) problems.push(`${name}: ${v} (core/config.ts) is set by neither cmp-config nor cmp-secrets`);
    if (v in config && secretKeys.has(v)) problems.push(`${name}: ${v} is both in cmp-config and cmp-secrets`);
  }
  if (variables.length < 40) problems.push(`core/config.ts: only ${variables.length} variables found; the parser needs updating`);
  ok.push(`${name}: ${docs.length} objects rendered and cross-checked (${variables.length} config variables)`);
}

if (kubectl) {
  for (const target of ['base', 'overlays/dev', 'overlays/qa', 'overlays/prod']) {
    let out;
    try {
      out = execFileSync('kubectl', ['kustomize', path.join(deployDir, 'k8s', target)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      problems.push(`kubectl kustomize ${target}: ${err.stderr || err.message}`);
      continue;
    }
    checkRendered(target, parseYaml(out, `rendered ${target}`));
  }
}

// 5. compose.yaml references.
const composePath = path.join(deployDir, 'compose/compose.yaml');
const [compose] = parseYaml(fs.readFileSync(composePath, 'utf8'), 'compose.yaml');
const services = compose.services ?? {};
for (const [svcName, svc] of Object.entries(services)) {
  if (!svc.image && !svc.build) problems.push(`compose: ${svcName} has neither image nor build`);
  const deps = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {});
  for (const dep of deps) {
    if (!services[dep]) problems.push(`compose: ${svcName} depends on unknown service ${dep}`);
    const cond = svc.depends_on?.[dep]?.condition;
    if (cond === 'service_healthy' && !services[dep]?.healthcheck) problems.push(`compose: ${svcName} waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
  }
  for (const v of svc.volumes ?? []) {
    const source = String(v).split(':')[0];
    if (!source.startsWith('.') && !source.startsWith('/') && !(compose.volumes && source in compose.volumes)) problems.push(`compose: ${svcName} uses undeclared volume ${source}`);
    if (source.startsWith('.') && !fs.existsSync(path.resolve(path.dirname(composePath), source))) problems.push(`compose: ${svcName} mounts missing file ${source}`);
  }
  for (const c of svc.configs ?? []) {
    if (!compose.configs?.[c.source ?? c]) problems.push(`compose: ${svcName} uses undeclared config ${c.source ?? c}`);
  }
  if (svc.build) {
    const dockerfile = path.resolve(path.dirname(composePath), svc.build.context, svc.build.dockerfile);
    if (!fs.existsSync(dockerfile)) problems.push(`compose: ${svcName} builds from missing ${dockerfile}`);
  }
}
ok.push(`compose.yaml: ${Object.keys(services).length} services cross-checked`);

for (const line of ok) console.log(`ok   ${line}`);
for (const line of problems) console.log(`FAIL ${line}`);
process.exitCode = problems.length ? 1 : 0;
