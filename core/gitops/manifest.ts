// The instance manifest ArgoCD syncs: one small Kubernetes-style document per
// instance. It is a pure function of the instance, with a fixed key order and
// no timestamps, so re-provisioning an unchanged instance writes the same bytes
// and commitFiles reports changed=false instead of adding an empty commit.
import { GitOpsRejectedError } from './gitops-repo';

export interface InstanceManifestInput {
  orgId: string;
  instanceId: string;
  offeringSlug: string;
  version: string;
  plan: string;
  runtimeFlowId: string;
  /** Vault KV path of the instance's secrets (read by External Secrets Operator). */
  secretsPath: string;
}

export interface InstanceManifest {
  path: string;
  content: string;
}

export const MANIFEST_API_VERSION = 'cmp.dev/v1alpha1';
export const MANIFEST_KIND = 'AgentInstance';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function instanceManifestPath(orgId: string, instanceId: string): string {
  assertId('orgId', orgId);
  assertId('instanceId', instanceId);
  return `tenants/${orgId}/instances/${instanceId}.yaml`;
}

export function instanceManifest(input: InstanceManifestInput): InstanceManifest {
  for (const [field, value] of Object.entries(input)) {
    if (typeof value !== 'string' || !value.trim() || /[\r\n]/.test(value)) throw new GitOpsRejectedError(`Manifest field ${field} must be a non-empty single line`);
  }
  const doc: YamlMap = {
    apiVersion: MANIFEST_API_VERSION,
    kind: MANIFEST_KIND,
    metadata: {
      name: input.instanceId,
      namespace: `tenant-${input.orgId}`,
      labels: {
        'cmp.dev/org-id': input.orgId,
        'cmp.dev/instance-id': input.instanceId,
        'cmp.dev/offering': input.offeringSlug,
      },
    },
    spec: {
      offering: input.offeringSlug,
      version: input.version,
      plan: input.plan,
      runtime: { flowId: input.runtimeFlowId },
      secrets: { vaultPath: input.secretsPath },
    },
  };
  return {
    path: instanceManifestPath(input.orgId, input.instanceId),
    content: `# Managed by CMP provisioning; edits here are overwritten.\n${toYaml(doc, 0)}`,
  };
}

function assertId(field: string, value: string): void {
  if (!ID.test(value) || value.length > 128) throw new GitOpsRejectedError(`${field} ${JSON.stringify(value)} is not a safe identifier`);
}

type YamlMap = { [key: string]: string | YamlMap };

/** Block-style YAML in insertion order; every scalar double-quoted (JSON escapes are valid YAML). */
function toYaml(map: YamlMap, depth: number): string {
  const indent = '  '.repeat(depth);
  return Object.entries(map)
    .map(([key, value]) => (typeof value === 'string' ? `${indent}${key}: ${JSON.stringify(value)}\n` : `${indent}${key}:\n${toYaml(value, depth + 1)}`))
    .join('');
}
