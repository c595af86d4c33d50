// Seeds the catalog with the launch agents (deploy/local/agents/*): each
// offering with its plans, its flow stored in S3 under its sha256 and a
// published version, plus the credit packs. Idempotent: a second run changes
// nothing that is already there.
import { S3ArtifactStore, s3OptionsFromConfig, validateFlow } from '../../core/artifacts';
import { addVersionFromFlow } from '../../core/catalog/publishing';
import { CatalogStore } from '../../core/catalog/store';
import type { Config } from '../../core/config';
import { createDb, type Db } from '../../core/db';
import { loadLaunchAgents } from './agents';

export const CREDIT_PACKS = [
  { code: 'starter-1k', name: '1,000 credits', creditsMc: 1_000_000, priceCents: 990 },
  { code: 'team-5k', name: '5,000 credits', creditsMc: 5_000_000, priceCents: 3990 },
];

/** Seeds into an open database with a given artifact store (tests use this directly). */
export async function seedCatalog(db: Db, artifacts: S3ArtifactStore): Promise<{ offerings: string[]; versionIds: Record<string, string> }> {
  const catalog = new CatalogStore(db);
  const versionIds: Record<string, string> = {};
  for (const { meta: agent, flow } of loadLaunchAgents()) {
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
