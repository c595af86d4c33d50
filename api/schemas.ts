// Response and shared request schemas of the HTTP contract (also the OpenAPI
// components). Money is always integer millicredits (`_mc`); 1 credit = 1000.
import { z } from './openapi';
import { API_KEY_SCOPES } from '../core/api-keys/store';

export const uuid = z.string().uuid();
export const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'lower-case letters, digits and dashes');

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export const planSchema = z
  .object({
    id: uuid,
    code: z.string(),
    name: z.string(),
    price_cents: z.number().int(),
    currency: z.string(),
    monthly_credits_mc: z.number().int(),
    price_per_run_mc: z.number().int(),
    price_per_1k_tokens_mc: z.number().int(),
    rate_limit_per_minute: z.number().int(),
    purchasable: z.boolean().describe('false until the plan is synced to Saleor (paid plans only)'),
  })
  .openapi('Plan');

export const versionSchema = z
  .object({
    id: uuid,
    version: z.string(),
    changelog: z.string(),
    sha256: z.string(),
    status: z.enum(['draft', 'published', 'retired']),
    published_at: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('OfferingVersion');

export const offeringSchema = z
  .object({
    id: uuid,
    slug: z.string(),
    name: z.string(),
    summary: z.string(),
    description: z.string(),
    category: z.string(),
    publisher: z.string(),
    status: z.enum(['draft', 'published', 'retired']),
    demo_enabled: z.boolean(),
    featured: z.boolean(),
    example_inputs: z.array(z.string()),
    latest_version: z.string().nullable(),
    runs_served: z.number().int(),
    plans: z.array(planSchema),
  })
  .openapi('Offering');

export const offeringDetailSchema = offeringSchema.extend({ versions: z.array(versionSchema) }).openapi('OfferingDetail');

const checkSchema = z.object({
  name: z.string().describe('validation, stored, registered, examples, example 1…'),
  status: z.enum(['passed', 'failed']),
  detail: z.string().describe('what was checked, the problem, or an excerpt of the example\'s answer'),
  duration_ms: z.number().int(),
  input: z.string().nullable().describe('the example input, for an example check'),
});

export const adminVersionSchema = versionSchema
  .extend({
    checks_status: z.enum(['pending', 'running', 'passed', 'failed']).nullable().describe('null: added before checks existed'),
    checks: z.array(checkSchema),
    checked_at: z.string().nullable(),
    runtime_flow_id: z.string().nullable(),
    size_bytes: z.number().int().nullable(),
    studio_url: z.string().nullable().describe('the flow in Langflow\'s UI, when the studio runs'),
  })
  .openapi('AdminOfferingVersion');

export const catalogSyncSchema = z
  .object({
    status: z.enum(['running', 'succeeded', 'failed']),
    workflow_id: z.string(),
    variants: z.number().int().nullable(),
    error: z.string().nullable(),
    started_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .openapi('CatalogSync');

export const adminOfferingListItemSchema = z
  .object({
    id: uuid, slug: z.string(), name: z.string(), summary: z.string(), category: z.string(), status: z.enum(['draft', 'published', 'retired']),
    demo_enabled: z.boolean(), version_count: z.number().int(), latest_version: z.string().nullable(), updated_at: z.string(),
  })
  .openapi('AdminOfferingListItem');

export const offeringStatsSchema = z
  .object({
    active_instances: z.number().int(),
    days: z.array(z.object({ date: z.string(), subscriptions: z.number().int(), runs: z.number().int(), failed_runs: z.number().int(), credits_mc: z.number().int() })),
  })
  .openapi('OfferingStats');

export const creditPackSchema = z
  .object({ id: uuid, code: z.string(), name: z.string(), credits_mc: z.number().int(), price_cents: z.number().int(), currency: z.string(), purchasable: z.boolean() })
  .openapi('CreditPack');

export const balanceSchema = z
  .object({
    wallet_id: uuid,
    org_id: uuid,
    available_mc: z.number().int(),
    posted_mc: z.number().int().describe('credits_posted − debits_posted'),
    held_mc: z.number().int().describe('open holds (debits_pending)'),
    credits: z.number().describe('available_mc / 1000, for display'),
  })
  .openapi('Wallet');

export const statementEntrySchema = z
  .object({
    transfer_id: z.string(),
    kind: z.enum(['posted', 'pending', 'post_pending', 'void_pending']),
    label: z.string().describe('grant, purchase, hold, settlement, release, expiry, adjustment, refund, charge'),
    amount_mc: z.number().int().describe('signed effect on the available balance'),
    transfer_amount_mc: z.number().int(),
    pending_id: z.string().nullable(),
    reason: z.string(),
    run_id: z.string().nullable(),
    order_id: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi('StatementEntry');

export const apiKeySchema = z
  .object({
    id: uuid,
    name: z.string(),
    prefix: z.string(),
    scopes: z.array(z.enum(API_KEY_SCOPES)),
    instance_id: uuid.nullable(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    created_by: z.object({ user_id: uuid, email: z.string().nullable() }).nullable().describe('Who created the key (null for keys from before teams)'),
  })
  .openapi('ApiKey');

export const instanceSchema = z
  .object({
    id: uuid,
    org_id: uuid,
    offering_id: uuid,
    offering_slug: z.string(),
    offering_name: z.string(),
    version: z.string(),
    plan_code: z.string(),
    status: z.enum(['pending', 'provisioning', 'active', 'needs_attention', 'failed', 'deprovisioning', 'deprovisioned']),
    order_id: z.string().nullable(),
    workflow_id: z.string().nullable(),
    gitops_commit_sha: z.string().nullable(),
    last_error: z.unknown().nullable(),
    created_at: z.string(),
    activated_at: z.string().nullable(),
  })
  .openapi('Instance');

export const orgSchema = z.object({ id: uuid, name: z.string(), role: z.enum(['owner', 'admin', 'member']) }).openapi('Organization');

export const adminOfferingDetailSchema = offeringSchema
  .extend({
    versions: z.array(adminVersionSchema),
    all_plans: z.array(planSchema.extend({ status: z.enum(['draft', 'published', 'retired']), org_rate_limit_per_minute: z.number().int() })),
    sync: catalogSyncSchema.nullable().describe('the last sync of this offering\'s plans to Saleor'),
  })
  .openapi('AdminOfferingDetail');

export const adminCreditPackSchema = creditPackSchema.extend({ status: z.enum(['draft', 'published', 'retired']) }).openapi('AdminCreditPack');
