// The catalog: offerings (agents), their versions (flow artifacts with sha256)
// and plans, and credit packs. SQL stays here; rows are mapped to camelCase
// domain types in one place.
import type { Knex } from 'knex';
import type { Db } from '../db';
import { conflict, notFound } from '../errors';

export type CatalogStatus = 'draft' | 'published' | 'retired';

export interface Plan {
  id: string;
  offeringId: string;
  code: string;
  name: string;
  priceCents: number;
  currency: string;
  monthlyCreditsMc: number;
  pricePerRunMc: number;
  pricePer1kTokensMc: number;
  rateLimitPerMinute: number;
  orgRateLimitPerMinute: number;
  saleorVariantId: string | null;
  status: CatalogStatus;
}

/** One check a version went through before it may be published. */
export interface VersionCheck {
  /** validation | stored | registered | example 1… */
  name: string;
  status: 'passed' | 'failed';
  /** What was checked or what went wrong, in plain words; for an example, an excerpt of the answer. */
  detail: string;
  durationMs: number;
  /** The example input an example check ran. */
  input?: string;
}

export type ChecksStatus = 'pending' | 'running' | 'passed' | 'failed';

export interface OfferingVersion {
  id: string;
  offeringId: string;
  version: string;
  changelog: string;
  artifactKey: string;
  sha256: string;
  runtimeFlowName: string | null;
  status: CatalogStatus;
  publishedAt: string | null;
  createdAt: string;
  /** null for versions added before checks existed (the seeded launch versions). */
  checksStatus: ChecksStatus | null;
  checks: VersionCheck[];
  checkedAt: string | null;
  runtimeFlowId: string | null;
  sizeBytes: number | null;
}

/** The last sync of an offering's plans, or of the credit packs, to Saleor. */
export interface CatalogSync {
  scope: string;
  status: 'running' | 'succeeded' | 'failed';
  workflowId: string;
  variants: number | null;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

export const offeringSyncScope = (offeringId: string) => `offering:${offeringId}`;
export const CREDIT_PACKS_SYNC_SCOPE = 'credit-packs';

export interface Offering {
  id: string;
  slug: string;
  name: string;
  summary: string;
  description: string;
  category: string;
  publisher: string;
  status: CatalogStatus;
  demoEnabled: boolean;
  featured: boolean;
  exampleInputs: string[];
  createdAt: string;
  updatedAt: string;
}

export interface CreditPack {
  id: string;
  code: string;
  name: string;
  creditsMc: number;
  priceCents: number;
  currency: string;
  saleorVariantId: string | null;
  status: CatalogStatus;
}

export interface OfferingSummary extends Offering {
  latestVersion: string | null;
  plans: Plan[];
  runsServed: number;
}

export interface OfferingDetail extends OfferingSummary {
  versions: OfferingVersion[];
}

type Row = Record<string, any>;
const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? null : String(v));

export const toOffering = (r: Row): Offering => ({
  id: r.id, slug: r.slug, name: r.name, summary: r.summary, description: r.description, category: r.category,
  publisher: r.publisher, status: r.status, demoEnabled: r.demo_enabled, featured: r.featured,
  exampleInputs: r.example_inputs ?? [], createdAt: iso(r.created_at)!, updatedAt: iso(r.updated_at)!,
});
export const toVersion = (r: Row): OfferingVersion => ({
  id: r.id, offeringId: r.offering_id, version: r.version, changelog: r.changelog, artifactKey: r.artifact_key,
  sha256: r.sha256, runtimeFlowName: r.runtime_flow_name, status: r.status, publishedAt: iso(r.published_at),
  createdAt: iso(r.created_at)!, checksStatus: r.checks_status ?? null, checks: r.checks ?? [], checkedAt: iso(r.checked_at),
  runtimeFlowId: r.runtime_flow_id ?? null, sizeBytes: r.size_bytes ?? null,
});
const toCatalogSync = (r: Row): CatalogSync => ({
  scope: r.scope, status: r.status, workflowId: r.workflow_id, variants: r.variants ?? null, error: r.error ?? null,
  startedAt: iso(r.started_at)!, finishedAt: iso(r.finished_at),
});
export const toPlan = (r: Row): Plan => ({
  id: r.id, offeringId: r.offering_id, code: r.code, name: r.name, priceCents: r.price_cents, currency: r.currency,
  monthlyCreditsMc: r.monthly_credits_mc, pricePerRunMc: r.price_per_run_mc, pricePer1kTokensMc: r.price_per_1k_tokens_mc,
  rateLimitPerMinute: r.rate_limit_per_minute, orgRateLimitPerMinute: r.org_rate_limit_per_minute,
  saleorVariantId: r.saleor_variant_id, status: r.status,
});
export const toCreditPack = (r: Row): CreditPack => ({
  id: r.id, code: r.code, name: r.name, creditsMc: r.credits_mc, priceCents: r.price_cents, currency: r.currency,
  saleorVariantId: r.saleor_variant_id, status: r.status,
});

export interface OfferingInput {
  slug: string;
  name: string;
  summary?: string;
  description?: string;
  category?: string;
  publisher?: string;
  demoEnabled?: boolean;
  featured?: boolean;
  exampleInputs?: string[];
}

export interface PlanInput {
  code: string;
  name: string;
  priceCents: number;
  currency?: string;
  monthlyCreditsMc: number;
  pricePerRunMc: number;
  pricePer1kTokensMc?: number;
  rateLimitPerMinute: number;
  orgRateLimitPerMinute?: number;
  status?: CatalogStatus;
}

export interface CreditPackInput {
  code: string;
  name: string;
  creditsMc: number;
  priceCents: number;
  currency?: string;
  status?: CatalogStatus;
}

export interface ListOfferingsQuery {
  q?: string;
  category?: string;
  sort?: 'featured' | 'name' | 'newest' | 'popular';
  limit: number;
  offset: number;
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

export class CatalogStore {
  constructor(private readonly db: Db) {}

  async listPublished(query: ListOfferingsQuery): Promise<{ items: OfferingSummary[]; total: number }> {
    const base = this.db('offerings').where('status', 'published');
    if (query.category) base.andWhere('category', query.category);
    if (query.q) {
      const like = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      base.andWhere((w) => w.whereILike('name', like).orWhereILike('summary', like).orWhereILike('description', like).orWhereILike('category', like));
    }
    const [{ count }] = (await base.clone().count<{ count: string }[]>('* as count')) as [{ count: string }];
    const rows = await base
      .clone()
      .select('offerings.*')
      .select(this.db.raw('(select count(*) from runs r where r.offering_id = offerings.id and r.status = ?) as runs_served', ['succeeded']))
      .modify((qb) => {
        if (query.sort === 'name') qb.orderBy('name');
        else if (query.sort === 'newest') qb.orderBy('created_at', 'desc');
        else if (query.sort === 'popular') qb.orderBy('runs_served', 'desc').orderBy('name');
        else qb.orderBy('featured', 'desc').orderBy('name');
      })
      .limit(query.limit)
      .offset(query.offset);
    return { items: await this.summaries(rows), total: Number(count) };
  }

  async categories(): Promise<{ category: string; count: number }[]> {
    const rows = await this.db('offerings').where('status', 'published').select('category').count('* as count').groupBy('category').orderBy('category');
    return rows.map((r) => ({ category: String(r.category), count: Number(r.count) }));
  }

  private async summaries(rows: Row[]): Promise<OfferingSummary[]> {
    if (!rows.length) return [];
    const ids = rows.map((r) => r.id as string);
    const [plans, versions] = await Promise.all([
      this.db('plans').whereIn('offering_id', ids).where('status', 'published').orderBy('price_cents'),
      this.db('offering_versions').whereIn('offering_id', ids).where('status', 'published').orderBy('published_at', 'desc'),
    ]);
    return rows.map((r) => ({
      ...toOffering(r),
      runsServed: Number(r.runs_served ?? 0),
      latestVersion: versions.find((v) => v.offering_id === r.id)?.version ?? null,
      plans: plans.filter((p) => p.offering_id === r.id).map(toPlan),
    }));
  }

  /** A published offering by slug, with its published versions and plans; admins may see drafts. */
  async getBySlug(slug: string, opts: { includeUnpublished?: boolean } = {}): Promise<OfferingDetail> {
    const row = await this.db('offerings')
      .where('slug', slug)
      .modify((qb) => {
        if (!opts.includeUnpublished) qb.where('status', 'published');
      })
      .select('offerings.*')
      .select(this.db.raw('(select count(*) from runs r where r.offering_id = offerings.id and r.status = ?) as runs_served', ['succeeded']))
      .first();
    if (!row) throw notFound(`Offering ${slug}`);
    const [summary] = await this.summaries([row]);
    const versions = await this.versions(row.id, opts);
    return { ...summary!, versions };
  }

  async getById(id: string): Promise<Offering> {
    const row = await this.db('offerings').where('id', id).first();
    if (!row) throw notFound(`Offering ${id}`);
    return toOffering(row);
  }

  async versions(offeringId: string, opts: { includeUnpublished?: boolean } = {}): Promise<OfferingVersion[]> {
    const rows = await this.db('offering_versions')
      .where('offering_id', offeringId)
      .modify((qb) => {
        if (!opts.includeUnpublished) qb.where('status', 'published');
      })
      .orderBy('created_at', 'desc');
    return rows.map(toVersion);
  }

  async latestPublishedVersion(offeringId: string): Promise<OfferingVersion | null> {
    const row = await this.db('offering_versions').where({ offering_id: offeringId, status: 'published' }).orderBy('published_at', 'desc').first();
    return row ? toVersion(row) : null;
  }

  async getVersion(id: string): Promise<OfferingVersion> {
    const row = await this.db('offering_versions').where('id', id).first();
    if (!row) throw notFound(`Offering version ${id}`);
    return toVersion(row);
  }

  async getPlan(id: string): Promise<Plan> {
    const row = await this.db('plans').where('id', id).first();
    if (!row) throw notFound(`Plan ${id}`);
    return toPlan(row);
  }

  async plansOf(offeringId: string): Promise<Plan[]> {
    return (await this.db('plans').where('offering_id', offeringId).orderBy('price_cents')).map(toPlan);
  }

  async findPlanByVariant(variantId: string): Promise<Plan | null> {
    const row = await this.db('plans').where('saleor_variant_id', variantId).first();
    return row ? toPlan(row) : null;
  }

  async findCreditPackByVariant(variantId: string): Promise<CreditPack | null> {
    const row = await this.db('credit_packs').where('saleor_variant_id', variantId).first();
    return row ? toCreditPack(row) : null;
  }

  async createOffering(input: OfferingInput, status: CatalogStatus = 'draft'): Promise<Offering> {
    try {
      const [row] = await this.db('offerings').insert(offeringRow(input, status)).returning('*');
      return toOffering(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`An offering with slug ${input.slug} exists`);
      throw err;
    }
  }

  /** Creates or updates an offering by slug (used by the seed and by admin edits). */
  async upsertOffering(input: OfferingInput, status?: CatalogStatus): Promise<Offering> {
    const row = offeringRow(input, status ?? 'draft');
    const merge = Object.keys(row).filter((k) => k !== 'slug' && (status !== undefined || k !== 'status'));
    const [saved] = await this.db('offerings').insert(row).onConflict('slug').merge([...merge, 'updated_at']).returning('*');
    return toOffering(saved);
  }

  async updateOffering(id: string, patch: Partial<OfferingInput> & { status?: CatalogStatus }): Promise<Offering> {
    const update: Row = { updated_at: this.db.fn.now() };
    if (patch.name !== undefined) update.name = patch.name;
    if (patch.summary !== undefined) update.summary = patch.summary;
    if (patch.description !== undefined) update.description = patch.description;
    if (patch.category !== undefined) update.category = patch.category;
    if (patch.publisher !== undefined) update.publisher = patch.publisher;
    if (patch.demoEnabled !== undefined) update.demo_enabled = patch.demoEnabled;
    if (patch.featured !== undefined) update.featured = patch.featured;
    if (patch.exampleInputs !== undefined) update.example_inputs = JSON.stringify(patch.exampleInputs);
    if (patch.status !== undefined) update.status = patch.status;
    const [row] = await this.db('offerings').where('id', id).update(update).returning('*');
    if (!row) throw notFound(`Offering ${id}`);
    return toOffering(row);
  }

  async upsertPlan(offeringId: string, input: PlanInput): Promise<Plan> {
    const row = {
      offering_id: offeringId, code: input.code, name: input.name, price_cents: input.priceCents, currency: input.currency ?? 'USD',
      monthly_credits_mc: input.monthlyCreditsMc, price_per_run_mc: input.pricePerRunMc, price_per_1k_tokens_mc: input.pricePer1kTokensMc ?? 0,
      rate_limit_per_minute: input.rateLimitPerMinute, org_rate_limit_per_minute: input.orgRateLimitPerMinute ?? input.rateLimitPerMinute * 10,
      status: input.status ?? 'published',
    };
    const [saved] = await this.db('plans').insert(row).onConflict(['offering_id', 'code']).merge([...Object.keys(row), 'updated_at']).returning('*');
    return toPlan(saved);
  }

  async upsertCreditPack(input: CreditPackInput): Promise<CreditPack> {
    const row = {
      code: input.code, name: input.name, credits_mc: input.creditsMc, price_cents: input.priceCents,
      currency: input.currency ?? 'USD', status: input.status ?? 'published',
    };
    const [saved] = await this.db('credit_packs').insert(row).onConflict('code').merge([...Object.keys(row), 'updated_at']).returning('*');
    return toCreditPack(saved);
  }

  /** Every offering whatever its status, for the publisher console, newest first. */
  async listAll(): Promise<(Offering & { versionCount: number; latestVersion: string | null })[]> {
    const rows = await this.db('offerings')
      .select('offerings.*')
      .select(this.db.raw('(select count(*) from offering_versions v where v.offering_id = offerings.id) as version_count'))
      .select(this.db.raw(`(select v.version from offering_versions v where v.offering_id = offerings.id and v.status = 'published'
        order by v.published_at desc limit 1) as latest_version`))
      .orderBy('created_at', 'desc');
    return rows.map((r) => ({ ...toOffering(r), versionCount: Number(r.version_count), latestVersion: r.latest_version ?? null }));
  }

  /** Credit packs in every status (the console edits drafts and retired ones too). */
  async listAllCreditPacks(): Promise<CreditPack[]> {
    return (await this.db('credit_packs').orderBy('price_cents')).map(toCreditPack);
  }

  async listCreditPacks(): Promise<CreditPack[]> {
    return (await this.db('credit_packs').where('status', 'published').orderBy('price_cents')).map(toCreditPack);
  }

  async setVariantIds(kind: 'plan' | 'credit_pack', id: string, variantId: string): Promise<void> {
    await this.db(kind === 'plan' ? 'plans' : 'credit_packs').where('id', id).update({ saleor_variant_id: variantId, updated_at: this.db.fn.now() });
  }

  /** Records a version; the same version with the same artifact is a no-op, a different artifact a conflict. */
  async addVersion(input: {
    offeringId: string; version: string; changelog: string; artifactKey: string; sha256: string; runtimeFlowName: string;
    sizeBytes?: number; checks?: VersionCheck[]; checksStatus?: ChecksStatus;
  }): Promise<OfferingVersion> {
    const existing = await this.db('offering_versions').where({ offering_id: input.offeringId, version: input.version }).first();
    if (existing) {
      if (existing.sha256 !== input.sha256) throw conflict(`Version ${input.version} exists with another artifact; versions are immutable`);
      return toVersion(existing);
    }
    try {
      const [row] = await this.db('offering_versions')
        .insert({
          offering_id: input.offeringId, version: input.version, changelog: input.changelog, artifact_key: input.artifactKey,
          sha256: input.sha256, runtime_flow_name: input.runtimeFlowName, status: 'draft',
          size_bytes: input.sizeBytes ?? null, checks: JSON.stringify(input.checks ?? []), checks_status: input.checksStatus ?? null,
        })
        .returning('*');
      return toVersion(row);
    } catch (err) {
      if (isUniqueViolation(err)) return this.addVersion(input);
      throw err;
    }
  }

  async setVersionStatus(versionId: string, status: CatalogStatus, trx: Knex | Db = this.db): Promise<OfferingVersion> {
    const [row] = await trx('offering_versions')
      .where('id', versionId)
      .update({ status, published_at: status === 'published' ? this.db.raw('coalesce(published_at, now())') : this.db.raw('published_at'), updated_at: this.db.fn.now() })
      .returning('*');
    if (!row) throw notFound(`Offering version ${versionId}`);
    return toVersion(row);
  }

  /** Starts a round of checks: the checks done before it (validation) are kept, later ones are cleared. */
  async beginVersionChecks(versionId: string, keep: string[]): Promise<OfferingVersion> {
    const version = await this.getVersion(versionId);
    const [row] = await this.db('offering_versions')
      .where('id', versionId)
      .update({ checks_status: 'running', checks: JSON.stringify(version.checks.filter((c) => keep.includes(c.name))), checked_at: null, updated_at: this.db.fn.now() })
      .returning('*');
    return toVersion(row);
  }

  /** Adds (or replaces, by name: a retried activity) one check result. */
  async recordVersionCheck(versionId: string, check: VersionCheck): Promise<void> {
    await this.db.transaction(async (trx) => {
      const row = await trx('offering_versions').where('id', versionId).forUpdate().first('checks');
      if (!row) throw notFound(`Offering version ${versionId}`);
      const checks = (row.checks as VersionCheck[]).filter((c) => c.name !== check.name);
      await trx('offering_versions').where('id', versionId).update({ checks: JSON.stringify([...checks, check]), updated_at: trx.fn.now() });
    });
  }

  async finishVersionChecks(versionId: string, status: 'passed' | 'failed'): Promise<void> {
    await this.db('offering_versions').where('id', versionId).update({ checks_status: status, checked_at: this.db.fn.now(), updated_at: this.db.fn.now() });
  }

  async setVersionRuntimeFlow(versionId: string, runtimeFlowId: string): Promise<void> {
    await this.db('offering_versions').where('id', versionId).update({ runtime_flow_id: runtimeFlowId, updated_at: this.db.fn.now() });
  }

  async startCatalogSync(scope: string, workflowId: string): Promise<void> {
    await this.db('catalog_syncs')
      .insert({ scope, status: 'running', workflow_id: workflowId, variants: null, error: null, started_at: this.db.fn.now(), finished_at: null })
      .onConflict('scope')
      .merge();
  }

  /** Records how a sync ended, unless a later sync of the scope has started since. */
  async finishCatalogSync(scope: string, workflowId: string, result: { variants: number } | { error: string }): Promise<void> {
    await this.db('catalog_syncs')
      .where({ scope, workflow_id: workflowId })
      .update('error' in result
        ? { status: 'failed', error: result.error, finished_at: this.db.fn.now() }
        : { status: 'succeeded', variants: result.variants, error: null, finished_at: this.db.fn.now() });
  }

  async catalogSyncs(scopes: string[]): Promise<CatalogSync[]> {
    return (await this.db('catalog_syncs').whereIn('scope', scopes)).map(toCatalogSync);
  }

  /** Repairs a version's recorded hash (support fixing a bad catalog entry). */
  async setVersionArtifact(versionId: string, artifactKey: string, sha256: string): Promise<OfferingVersion> {
    const [row] = await this.db('offering_versions').where('id', versionId).update({ artifact_key: artifactKey, sha256, updated_at: this.db.fn.now() }).returning('*');
    if (!row) throw notFound(`Offering version ${versionId}`);
    return toVersion(row);
  }
}

function offeringRow(input: OfferingInput, status: CatalogStatus): Row {
  return {
    slug: input.slug, name: input.name, summary: input.summary ?? '', description: input.description ?? '',
    category: input.category ?? 'general', publisher: input.publisher ?? 'CMP', demo_enabled: input.demoEnabled ?? true,
    featured: input.featured ?? false, example_inputs: JSON.stringify(input.exampleInputs ?? []), status,
  };
}
