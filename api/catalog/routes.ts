// The public catalog (no login) and its administration (admin role).
import type { Client } from '@temporalio/client';
import { Router, type RequestHandler } from 'express';
import { addVersionFromUpload, assertPublishable, type FlowArtifacts, type FlowPolicy, type FlowValidator } from '../../core/catalog/publishing';
import { CREDIT_PACKS_SYNC_SCOPE, offeringSyncScope } from '../../core/catalog/store';
import type { CatalogStore, CatalogSync, CreditPack, OfferingDetail, OfferingSummary, OfferingVersion, Plan } from '../../core/catalog/store';
import { catalogSyncRunId, versionChecksWorkflowId, type CheckVersionInput } from '../../core/catalog/contract';
import type { OfferingStatsStore } from '../../core/catalog/offering-stats';
import { notFound } from '../../core/errors';
import type { AuditLog } from '../../core/audit';
import type { Logger } from '../../core/logger';
import { decodeCursor, encodeCursor } from '../cursor';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import {
  adminCreditPackSchema, adminOfferingDetailSchema, adminOfferingListItemSchema, adminVersionSchema, catalogSyncSchema, creditPackSchema, offeringDetailSchema,
  offeringSchema, offeringStatsSchema, planSchema, slug, uuid, versionSchema,
} from '../schemas';

export interface CatalogRouteDeps {
  api: ApiDefinition;
  catalog: CatalogStore;
  artifacts: FlowArtifacts;
  validateFlow: FlowValidator;
  audit: AuditLog;
  requireUser: RequestHandler;
  requireAdmin: RequestHandler;
  idempotency: RequestHandler;
  temporal: Client;
  /** The provisioning task queue: version checks and catalog syncs run there. */
  taskQueue: string;
  stats: OfferingStatsStore;
  flowPolicy: FlowPolicy;
  /** Each example input's deadline while a version is checked. */
  checkRunTimeoutMs: number;
  /** Langflow's UI, when it runs: a version's flow opens at {studioUrl}/flow/{flowId}. */
  studioUrl?: string;
  logger: Logger;
  /** How long a change waits for its Saleor sync before answering (the sync goes on and records its result). */
  syncWaitMs?: number;
}

export const planView = (p: Plan) => ({
  id: p.id, code: p.code, name: p.name, price_cents: p.priceCents, currency: p.currency, monthly_credits_mc: p.monthlyCreditsMc,
  price_per_run_mc: p.pricePerRunMc, price_per_1k_tokens_mc: p.pricePer1kTokensMc, rate_limit_per_minute: p.rateLimitPerMinute,
  purchasable: p.priceCents === 0 || p.saleorVariantId !== null,
});
export const versionView = (v: OfferingVersion) => ({
  id: v.id, version: v.version, changelog: v.changelog, sha256: v.sha256, status: v.status, published_at: v.publishedAt, created_at: v.createdAt,
});
export const offeringView = (o: OfferingSummary) => ({
  id: o.id, slug: o.slug, name: o.name, summary: o.summary, description: o.description, category: o.category, publisher: o.publisher,
  status: o.status, demo_enabled: o.demoEnabled, featured: o.featured, example_inputs: o.exampleInputs, latest_version: o.latestVersion,
  runs_served: o.runsServed, plans: o.plans.map(planView),
});
const detailView = (o: OfferingDetail) => ({ ...offeringView(o), versions: o.versions.map(versionView) });
const packView = (p: CreditPack) => ({
  id: p.id, code: p.code, name: p.name, credits_mc: p.creditsMc, price_cents: p.priceCents, currency: p.currency, purchasable: p.saleorVariantId !== null,
});
const syncView = (s: CatalogSync | undefined) => (s ? {
  status: s.status, workflow_id: s.workflowId, variants: s.variants, error: s.error, started_at: s.startedAt, finished_at: s.finishedAt,
} : null);
const adminVersionView = (v: OfferingVersion, studioUrl: string | undefined) => ({
  ...versionView(v), checks_status: v.checksStatus, checked_at: v.checkedAt, runtime_flow_id: v.runtimeFlowId, size_bytes: v.sizeBytes,
  studio_url: studioUrl && v.runtimeFlowId ? `${studioUrl.replace(/\/+$/, '')}/flow/${v.runtimeFlowId}` : null,
  checks: v.checks.map((c) => ({ name: c.name, status: c.status, detail: c.detail, duration_ms: c.durationMs, input: c.input ?? null })),
});

const SEMVER_HINT = 'semver, e.g. 1.2.0';
const offeringInput = z.object({
  slug,
  name: z.string().min(1).max(120),
  summary: z.string().max(300).optional(),
  description: z.string().max(20_000).optional(),
  category: z.string().min(1).max(60).optional(),
  publisher: z.string().min(1).max(120).optional(),
  demo_enabled: z.boolean().optional(),
  featured: z.boolean().optional(),
  example_inputs: z.array(z.string().min(1).max(2000)).max(10).optional(),
});
const planInput = z.object({
  name: z.string().min(1).max(60),
  price_cents: z.number().int().min(0).max(10_000_000),
  currency: z.string().length(3).optional(),
  monthly_credits_mc: z.number().int().min(0).max(1e12),
  price_per_run_mc: z.number().int().min(0).max(1e9),
  price_per_1k_tokens_mc: z.number().int().min(0).max(1e9).optional(),
  rate_limit_per_minute: z.number().int().min(1).max(100_000),
  org_rate_limit_per_minute: z.number().int().min(1).max(1_000_000).optional(),
  status: z.enum(['draft', 'published', 'retired']).optional(),
});
const packInput = z.object({
  name: z.string().min(1).max(60),
  credits_mc: z.number().int().min(1).max(1e12),
  price_cents: z.number().int().min(1).max(10_000_000),
  currency: z.string().length(3).optional(),
  status: z.enum(['draft', 'published', 'retired']).optional(),
});

export function createCatalogRouter(deps: CatalogRouteDeps): Router {
  const { api, catalog } = deps;
  const router = Router();
  const tags = ['Catalog'];
  const admin = [deps.requireUser, deps.requireAdmin];
  const adminWrite = [...admin, deps.idempotency];

  /**
   * Syncs a change to Saleor through the existing workflow and records the result for the console. The request
   * waits a few seconds for it; a slower sync (Saleor down: the workflow retries) records its end when it comes.
   */
  async function syncToSaleor(scope: string, offeringId?: string): Promise<void> {
    const workflowId = catalogSyncRunId(scope, Date.now());
    await catalog.startCatalogSync(scope, workflowId);
    const finished = (async () => {
      try {
        const handle = await deps.temporal.workflow.start('syncCatalogToSaleor', { workflowId, taskQueue: deps.taskQueue, args: [{ offeringId }] });
        const { variants } = (await handle.result()) as { variants: number };
        await catalog.finishCatalogSync(scope, workflowId, { variants });
      } catch (err) {
        const cause = (err as { cause?: Error }).cause;
        await catalog.finishCatalogSync(scope, workflowId, { error: (cause ?? (err as Error)).message });
      }
    })().catch((err: unknown) => deps.logger.warn({ err, scope }, 'recording a catalog sync failed'));
    await Promise.race([finished, new Promise((r) => setTimeout(r, deps.syncWaitMs ?? 10_000).unref())]);
  }

  async function startChecks(versionId: string): Promise<void> {
    const input: CheckVersionInput = { versionId, runTimeoutMs: deps.checkRunTimeoutMs };
    // A round already running for this version is the one the caller wants.
    await deps.temporal.workflow.start('checkVersion', {
      workflowId: versionChecksWorkflowId(versionId), taskQueue: deps.taskQueue, args: [input], workflowIdConflictPolicy: 'USE_EXISTING',
    });
  }

  api.route(router, {
    method: 'get', path: '/v1/offerings', summary: 'Browse published agents', tags, auth: 'public', workspaceRole: null,
    query: z.object({
      q: z.string().max(100).optional(),
      category: z.string().max(60).optional(),
      sort: z.enum(['featured', 'name', 'newest', 'popular']).default('featured'),
      limit: z.coerce.number().int().min(1).max(100).default(24),
      cursor: z.string().max(200).optional(),
    }),
    responses: { 200: { description: 'A page of offerings', schema: z.object({ items: z.array(offeringSchema), total: z.number().int(), next_cursor: z.string().nullable(), categories: z.array(z.object({ category: z.string(), count: z.number().int() })) }) } },
  }, async (_req, res, { query }) => {
    const offset = decodeCursor<{ o: number }>(query.cursor, ['o'])?.o ?? 0;
    const [{ items, total }, categories] = await Promise.all([
      catalog.listPublished({ q: query.q, category: query.category, sort: query.sort, limit: query.limit, offset }),
      catalog.categories(),
    ]);
    const next = offset + items.length < total ? encodeCursor({ o: offset + items.length }) : null;
    res.setHeader('Cache-Control', 'public, max-age=10');
    res.json({ items: items.map(offeringView), total, next_cursor: next, categories });
  });

  api.route(router, {
    method: 'get', path: '/v1/offerings/:slug', summary: 'One agent with its versions and plans', tags, auth: 'public', workspaceRole: null,
    params: z.object({ slug: z.string().max(100) }),
    responses: { 200: { description: 'The offering', schema: offeringDetailSchema } },
  }, async (_req, res, { params }) => {
    res.setHeader('Cache-Control', 'public, max-age=10');
    res.json(detailView(await catalog.getBySlug(params.slug)));
  });

  api.route(router, {
    method: 'get', path: '/v1/offerings/:id/versions', summary: 'Published versions of an agent (by id or slug), newest first', tags, auth: 'public', workspaceRole: null,
    params: z.object({ id: z.string().max(100) }),
    responses: { 200: { description: 'Versions with changelog', schema: z.object({ items: z.array(versionSchema) }) } },
  }, async (_req, res, { params }) => {
    const offering = uuid.safeParse(params.id).success ? await catalog.getById(params.id) : await catalog.getBySlug(params.id);
    if (offering.status !== 'published') throw notFound(`Offering ${params.id}`);
    res.json({ items: (await catalog.versions(offering.id)).map(versionView) });
  });

  api.route(router, {
    method: 'get', path: '/v1/credit-packs', summary: 'Credit packs for sale', tags, auth: 'public', workspaceRole: null,
    responses: { 200: { description: 'Credit packs', schema: z.object({ items: z.array(creditPackSchema) }) } },
  }, async (_req, res) => {
    res.json({ items: (await catalog.listCreditPacks()).map(packView) });
  });

  // Administration.
  const adminTags = ['Catalog administration'];
  api.route(router, {
    method: 'post', path: '/v1/admin/offerings', summary: 'Create an offering (draft)', tags: adminTags, auth: 'user', workspaceRole: null, use: adminWrite, idempotent: true,
    body: offeringInput,
    responses: { 201: { description: 'Created', schema: offeringSchema } },
  }, async (req, res, { body }) => {
    const o = await catalog.createOffering({
      slug: body.slug, name: body.name, summary: body.summary, description: body.description, category: body.category, publisher: body.publisher,
      demoEnabled: body.demo_enabled, featured: body.featured, exampleInputs: body.example_inputs,
    });
    await deps.audit.record({ actor: `user:${req.user!.id}`, action: 'offering.create', targetType: 'offering', targetId: o.id, data: { slug: o.slug } });
    res.status(201).json(offeringView({ ...o, latestVersion: null, plans: [], runsServed: 0 }));
  });

  api.route(router, {
    method: 'get', path: '/v1/admin/offerings', summary: 'Every offering, drafts and retired ones included (publisher console)', tags: adminTags, auth: 'user', workspaceRole: null, use: admin,
    responses: { 200: { description: 'Offerings, newest first', schema: z.object({ items: z.array(adminOfferingListItemSchema) }) } },
  }, async (_req, res) => {
    const items = await catalog.listAll();
    res.json({
      items: items.map((o) => ({
        id: o.id, slug: o.slug, name: o.name, summary: o.summary, category: o.category, status: o.status, demo_enabled: o.demoEnabled,
        version_count: o.versionCount, latest_version: o.latestVersion, updated_at: o.updatedAt,
      })),
    });
  });

  api.route(router, {
    method: 'get', path: '/v1/admin/offerings/:slug', summary: 'An offering with drafts, every plan, version checks and the last Saleor sync', tags: adminTags, auth: 'user', workspaceRole: null, use: admin,
    params: z.object({ slug: z.string().max(100) }),
    responses: { 200: { description: 'The offering, drafts included', schema: adminOfferingDetailSchema } },
  }, async (_req, res, { params }) => {
    const o = await catalog.getBySlug(params.slug, { includeUnpublished: true });
    const [plans, [sync]] = await Promise.all([catalog.plansOf(o.id), catalog.catalogSyncs([offeringSyncScope(o.id)])]);
    res.json({
      ...detailView(o),
      versions: o.versions.map((v) => adminVersionView(v, deps.studioUrl)),
      all_plans: plans.map((p) => ({ ...planView(p), status: p.status, org_rate_limit_per_minute: p.orgRateLimitPerMinute })),
      sync: syncView(sync),
    });
  });

  api.route(router, {
    method: 'get', path: '/v1/admin/offerings/:id/stats', summary: 'Subscriptions, runs, failures and credits charged per day (last 30 days)', tags: adminTags, auth: 'user', workspaceRole: null, use: admin,
    params: z.object({ id: uuid }),
    query: z.object({ days: z.coerce.number().int().min(1).max(90).default(30) }),
    responses: { 200: { description: 'Daily figures, oldest first', schema: offeringStatsSchema } },
  }, async (_req, res, { params, query }) => {
    await catalog.getById(params.id);
    const stats = await deps.stats.daily(params.id, query.days);
    res.json({
      active_instances: stats.activeInstances,
      days: stats.days.map((d) => ({ date: d.date, subscriptions: d.subscriptions, runs: d.runs, failed_runs: d.failedRuns, credits_mc: d.creditsMc })),
    });
  });

  api.route(router, {
    method: 'patch', path: '/v1/admin/offerings/:id', summary: 'Edit or publish/retire an offering', tags: adminTags, auth: 'user', workspaceRole: null, use: adminWrite, idempotent: true,
    params: z.object({ id: uuid }),
    body: offeringInput.omit({ slug: true }).partial().extend({ status: z.enum(['draft', 'published', 'retired']).optional() }),
    responses: { 200: { description: 'Updated', schema: offeringSchema } },
  }, async (req, res, { params, body }) => {
    const o = await catalog.updateOffering(params.id, {
      name: body.name, summary: body.summary, description: body.description, category: body.category, publisher: body.publisher,
      demoEnabled: body.demo_enabled, featured: body.featured, exampleInputs: body.example_inputs, status: body.status,
    });
    await deps.audit.record({ actor: `user:${req.user!.id}`, action: 'offering.update', targetType: 'offering', targetId: o.id, data: body });
    const detail = await catalog.getBySlug(o.slug, { includeUnpublished: true });
    if (body.status === 'published') await syncToSaleor(offeringSyncScope(o.id), o.id);
    res.json(offeringView(detail));
  });

  api.route(router, {
    method: 'put', path: '/v1/admin/offerings/:id/plans/:code', summary: 'Create or update a plan', tags: adminTags, auth: 'user', workspaceRole: null, use: adminWrite, idempotent: true,
    params: z.object({ id: uuid, code: z.string().regex(/^[a-z0-9-]{1,30}$/) }),
    body: planInput,
    responses: { 200: { description: 'The plan', schema: planSchema } },
  }, async (req, res, { params, body }) => {
    await catalog.getById(params.id);
    const plan = await catalog.upsertPlan(params.id, {
      code: params.code, name: body.name, priceCents: body.price_cents, currency: body.currency, monthlyCreditsMc: body.monthly_credits_mc,
      pricePerRunMc: body.price_per_run_mc, pricePer1kTokensMc: body.price_per_1k_tokens_mc, rateLimitPerMinute: body.rate_limit_per_minute,
      orgRateLimitPerMinute: body.org_rate_limit_per_minute, status: body.status,
    });
    await deps.audit.record({ actor: `user:${req.user!.id}`, action: 'plan.upsert', targetType: 'plan', targetId: plan.id, data: body });
    // Every change syncs: a price change must reach Saleor, and a retired plan's product is rewritten without it.
    await syncToSaleor(offeringSyncScope(params.id), params.id);
    res.json(planView(await catalog.getPlan(plan.id)));
  });

  api.route(router, {
    method: 'post', path: '/v1/admin/offerings/:id/versions', summary: 'Add a version by uploading its Langflow flow export; its checks start at once', tags: adminTags, auth: 'user', workspaceRole: null, use: adminWrite, idempotent: true,
    params: z.object({ id: uuid }),
    body: z.object({
      version: z.string().max(40).describe(SEMVER_HINT),
      changelog: z.string().max(10_000).default(''),
      flow_json: z.string().max(5 * 1024 * 1024).optional().describe('The export file\'s text, byte for byte (what is hashed and stored)'),
      sha256: z.string().regex(/^[0-9a-fA-F]{64}$/).optional().describe('The sha256 the uploader computed over flow_json; a mismatch is refused (upload-hash-mismatch)'),
      flow: z.record(z.string(), z.unknown()).optional().describe('The export as a JSON object (stored as serialised here); flow_json is preferred'),
    }).refine((b) => (b.flow_json === undefined) !== (b.flow === undefined), { message: 'send exactly one of flow_json and flow', path: ['flow_json'] }),
    responses: { 201: { description: 'The version (draft), its artifact stored under its sha256, its checks running', schema: adminVersionSchema } },
  }, async (req, res, { params, body }) => {
    const v = await addVersionFromUpload({ ...deps, policy: deps.flowPolicy }, {
      offeringId: params.id, version: body.version, changelog: body.changelog, flowJson: body.flow_json ?? JSON.stringify(body.flow), claimedSha256: body.sha256,
    });
    await deps.audit.record({ actor: `user:${req.user!.id}`, action: 'version.add', targetType: 'offering_version', targetId: v.id, data: { version: v.version, sha256: v.sha256 } });
    if (v.checksStatus === 'pending') await startChecks(v.id);
    res.status(201).json(adminVersionView(await catalog.getVersion(v.id), deps.studioUrl));
  });

  api.route(router, {
    method: 'get', path: '/v1/admin/versions/:id', summary: 'A version with its checks', tags: adminTags, auth: 'user', workspaceRole: null, use: admin,
    params: z.object({ id: uuid }),
    responses: { 200: { description: 'The version', schema: adminVersionSchema } },
  }, async (_req, res, { params }) => {
    res.json(adminVersionView(await catalog.getVersion(params.id), deps.studioUrl));
  });

  api.route(router, {
    method: 'post', path: '/v1/admin/versions/:id/checks', summary: 'Run a version\'s checks again (after its examples changed, or the runtime was down)', tags: adminTags, auth: 'user', workspaceRole: null, use: adminWrite, idempotent: true,
    params: z.object({ id: uuid }),
    responses: { 202: { description: 'The checks started', schema: adminVersionSchema } },
  }, async (req, res, { params }) => {
    const v = await catalog.getVersion(params.id);
    await startChecks(v.id);
    await deps.audit.record({ actor: `user:${req.user!.id}`, action: 'version.check', targetType: 'offering_version', targetId: v.id, data: { version: v.version } });
    res.status(202).json(adminVersionView(await catalog.getVersion(v.id), deps.studioUrl));
  });

  for (const [action, status] of [['publish', 'published'], ['retire', 'retired']] as const) {
    api.route(router, {
      method: 'post', path: `/v1/admin/versions/:id/${action}`,
      summary: action === 'publish'
        ? 'Publish a version: new subscriptions get it (refused unless all its checks passed and its artifact still matches its sha256)'
        : 'Retire a version: no new subscriptions get it; existing instances keep running it',
      tags: adminTags, auth: 'user', workspaceRole: null, use: adminWrite, idempotent: true,
      params: z.object({ id: uuid }),
      responses: { 200: { description: 'The version', schema: versionSchema } },
    }, async (req, res, { params }) => {
      if (status === 'published') await assertPublishable(deps, await catalog.getVersion(params.id));
      const v = await catalog.setVersionStatus(params.id, status);
      await deps.audit.record({ actor: `user:${req.user!.id}`, action: `version.${action}`, targetType: 'offering_version', targetId: v.id, data: { version: v.version } });
      if (status === 'published') await syncToSaleor(offeringSyncScope(v.offeringId), v.offeringId);
      res.json(versionView(v));
    });
  }

  api.route(router, {
    method: 'put', path: '/v1/admin/credit-packs/:code', summary: 'Create or update a credit pack', tags: adminTags, auth: 'user', workspaceRole: null, use: adminWrite, idempotent: true,
    params: z.object({ code: z.string().regex(/^[a-z0-9-]{1,30}$/) }),
    body: packInput,
    responses: { 200: { description: 'The credit pack', schema: creditPackSchema } },
  }, async (req, res, { params, body }) => {
    const pack = await catalog.upsertCreditPack({ code: params.code, name: body.name, creditsMc: body.credits_mc, priceCents: body.price_cents, currency: body.currency, status: body.status });
    await deps.audit.record({ actor: `user:${req.user!.id}`, action: 'credit_pack.upsert', targetType: 'credit_pack', targetId: pack.id, data: body });
    await syncToSaleor(CREDIT_PACKS_SYNC_SCOPE);
    res.json(packView((await catalog.listAllCreditPacks()).find((p) => p.id === pack.id) ?? pack));
  });

  api.route(router, {
    method: 'get', path: '/v1/admin/credit-packs', summary: 'Every credit pack (drafts and retired included) and the last Saleor sync', tags: adminTags, auth: 'user', workspaceRole: null, use: admin,
    responses: { 200: { description: 'Credit packs', schema: z.object({ items: z.array(adminCreditPackSchema), sync: catalogSyncSchema.nullable() }) } },
  }, async (_req, res) => {
    const [packs, [sync]] = await Promise.all([catalog.listAllCreditPacks(), catalog.catalogSyncs([CREDIT_PACKS_SYNC_SCOPE])]);
    res.json({ items: packs.map((p) => ({ ...packView(p), status: p.status })), sync: syncView(sync) });
  });

  return router;
}
