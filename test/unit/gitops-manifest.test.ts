// The instance manifest: where it goes, and that the same instance always gives the same bytes.
import { describe, expect, it } from 'vitest';
import { assertRepoPath, GitOpsRejectedError, instanceManifest, instanceManifestPath } from '../../core/gitops';

const input = {
  orgId: '5b1c0e7e-1111-4c4c-9a9a-000000000001',
  instanceId: '9f3a2b10-2222-4d4d-8b8b-000000000002',
  offeringSlug: 'support-summarizer',
  version: '1.2.0',
  plan: 'pro',
  runtimeFlowId: 'flow-abc',
  secretsPath: 'cmp/orgs/5b1c0e7e-1111-4c4c-9a9a-000000000001/instances/9f3a2b10-2222-4d4d-8b8b-000000000002',
};

describe('instanceManifest', () => {
  it('places the manifest under tenants/<orgId>/instances/<instanceId>.yaml', () => {
    expect(instanceManifest(input).path).toBe(`tenants/${input.orgId}/instances/${input.instanceId}.yaml`);
  });

  it('writes a Kubernetes-style document with a fixed key order', () => {
    expect(instanceManifest(input).content).toBe(
      [
        '# Managed by CMP provisioning; edits here are overwritten.',
        'apiVersion: "cmp.dev/v1alpha1"',
        'kind: "AgentInstance"',
        'metadata:',
        `  name: "${input.instanceId}"`,
        `  namespace: "tenant-${input.orgId}"`,
        '  labels:',
        `    cmp.dev/org-id: "${input.orgId}"`,
        `    cmp.dev/instance-id: "${input.instanceId}"`,
        '    cmp.dev/offering: "support-summarizer"',
        'spec:',
        '  offering: "support-summarizer"',
        '  version: "1.2.0"',
        '  plan: "pro"',
        '  runtime:',
        '    flowId: "flow-abc"',
        '  secrets:',
        `    vaultPath: "${input.secretsPath}"`,
        '',
      ].join('\n'),
    );
  });

  it('gives the same bytes for the same instance, whatever the input key order', () => {
    const reordered = Object.fromEntries(Object.entries(input).reverse()) as typeof input;
    expect(instanceManifest(reordered)).toEqual(instanceManifest(input));
    expect(instanceManifest({ ...input, plan: 'free' }).content).not.toBe(instanceManifest(input).content);
  });

  it('quotes values so YAML cannot misread them, and refuses unsafe ids', () => {
    expect(instanceManifest({ ...input, version: 'yes: no # x' }).content).toContain('version: "yes: no # x"');
    expect(() => instanceManifest({ ...input, plan: 'a\nb' })).toThrow(GitOpsRejectedError);
    expect(() => instanceManifestPath('../etc', 'i')).toThrow(GitOpsRejectedError);
    expect(() => instanceManifestPath('o', 'i/j')).toThrow(GitOpsRejectedError);
    expect(() => assertRepoPath('tenants/.git/hooks')).toThrow(/\.git/);
  });
});
