// Seeds the catalog with the launch agents (deploy/local/agents/*): each
// offering with its plans, its flow stored in S3 under its sha256 and a
// published version, plus the credit packs. Idempotent: a second run changes
// nothing that is already there.
import fs from 'node:fs';
import path from 'node:path';
import { S3ArtifactStore, s3OptionsFromConfig, validateFlow } from '../../core/artifacts';
import { addVersionFromFlow } from '../../core/catalog/publishing';
import { CatalogStore, type PlanInput } from '../../core/catalog/store';
import type { Config } from '../../core/config';
import { createDb, type Db } from '../../core/db';
import { repoRoot } from './stack';

export const agentsDir = path.join(repoRoot, 'deploy/local/agents');

interface AgentFile {
  slug: string;
  name: string;
  summary: string;
  description: string;
  category: string;
  publisher: string;
  version: string;
  changelog: { version: string; date: string; notes: string }[];
  exampleInputs: string[];
  plans: PlanInput[];
}

export const CREDIT_PACKS = [
  { code: 'starter-1k', name: '1,000 credits', creditsMc: 1_000_000, priceCents: 990 },
  { code: 'team-5k', name: '5,000 credits', creditsMc: 5_000_000, priceCents: 3990 },
];

export function launchAgents(): { agent: AgentFile; flow: unknown }[] {
  return fs
    .readdirSync(agentsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(agentsDir, d.name, 'agent.json')))
    .map((d) => ({
      agent: JSON.parse(fs.readFileSync(path.join(agentsDir, d.name, 'agent.json'), 'utf8')) as AgentFile,
      flow: JSON.parse(fs.readFileSync(path.join(agentsDir, d.name, 'flow.json'), 'utf8')) as unknown,
    }));
}

/** Seeds into an open database with a given artifact store (tests use this directly). */
export async function seedCatalog(db: Db, artifacts: S3ArtifactStore): Promise<{ offerings: string[]; versionIds: Record<string, string> }> {
  const catalog = new CatalogStore(db);
  const versionIds: Record<string, string> = {};
  for (const { agent, flow } of launchAgents()) {
    const offering = await catalog.upsertOffering(
      {
        slug: agent.slug, name: agent.name, summary: agent.summary, description: agent.description, category: agent.category,
        publisher: agent.publisher, demoEnabled: true, featured: true, exampleInputs: agent.exampleInputs,
      },
      'published',
    );
    for (const plan of agent.plans) await catalog.upsertPlan(offering.id, plan);
    const changelog = agent.changelog.find((c) => c.version === agent.version)?.notes ?? '';
    const version = await addVersionFromFlow(
      { catalog, artifacts, validateFlow: (f) => validateFlow(f).problems },
      { offeringId: offering.id, version: agent.version, changelog, flow },
    );
    if (version.status !== 'published') await catalog.setVersionStatus(version.id, 'published');
    versionIds[agent.slug] = version.id;
  }
  for (const pack of CREDIT_PACKS) await catalog.upsertCreditPack(pack);
  return { offerings: Object.keys(versionIds), versionIds };
}

export async function seedLaunchAgents(config: Config): Promise<string> {
  const db = createDb(config.DATABASE_URL, 2);
  const artifacts = new S3ArtifactStore(s3OptionsFromConfig(config));
  try {
    const { offerings } = await seedCatalog(db, artifacts);
    return `${offerings.join(', ')} and ${CREDIT_PACKS.length} credit packs`;
  } finally {
    artifacts.client.destroy();
    await db.destroy();
  }
}
