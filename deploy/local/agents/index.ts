// The launch agents shipped with CMP: store metadata (agent.json), the flow
// export stored in S3 (flow.json) and bundled documents, read from this folder.
// The catalog seed and the tests load them from here.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FlowExport } from '../../../core/runtime/agent-runtime';

export const agentsDir = path.dirname(fileURLToPath(import.meta.url));

export const LAUNCH_AGENT_SLUGS = ['ticket-triage', 'faq-answerer'] as const;
export type LaunchAgentSlug = (typeof LAUNCH_AGENT_SLUGS)[number];

export interface LaunchAgentPlan {
  code: 'free' | 'plus' | 'pro';
  name: string;
  /** Monthly subscription price in cents of `currency`. */
  priceCents: number;
  currency: 'USD';
  monthlyCreditsMc: number;
  pricePerRunMc: number;
  rateLimitPerMinute: number;
}

export interface LaunchAgentMeta {
  slug: LaunchAgentSlug;
  name: string;
  summary: string;
  /** Store page text, markdown. */
  description: string;
  category: string;
  publisher: string;
  version: string;
  changelog: Array<{ version: string; date: string; notes: string }>;
  exampleInputs: string[];
  plans: LaunchAgentPlan[];
  documents?: string[];
  component: { file: string; className: string; inputField: string; bundledFields?: Record<string, string> };
}

export interface LaunchAgent {
  meta: LaunchAgentMeta;
  /** flow.json exactly as stored in S3: its sha256 is the version's checksum. */
  flowBytes: Buffer;
  flow: FlowExport;
}

export function loadLaunchAgent(slug: LaunchAgentSlug): LaunchAgent {
  const dir = path.join(agentsDir, slug);
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'agent.json'), 'utf8')) as LaunchAgentMeta;
  const flowBytes = fs.readFileSync(path.join(dir, 'flow.json'));
  return { meta, flowBytes, flow: JSON.parse(flowBytes.toString('utf8')) as FlowExport };
}

export function loadLaunchAgents(): LaunchAgent[] {
  return LAUNCH_AGENT_SLUGS.map(loadLaunchAgent);
}
