// One typed configuration, read from the environment. Defaults point at the
// local stack that `npm run dev` starts; production sets every URL and secret.
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);
const url = z.string().url();
const positiveInt = z.coerce.number().int().positive();

/** Every variable, with its default for the local stack. */
export const configObject = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: url.default('postgres://cmp@127.0.0.1:55432/cmp'),
  DATABASE_POOL_MAX: positiveInt.default(10),

  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_UI_URL: url.default('http://127.0.0.1:8233'),
  /** Appended to every task queue name: lets tests run isolated workers on a shared server. */
  TEMPORAL_TASK_QUEUE_SUFFIX: z.string().regex(/^[\w-]*$/).default(''),

  API_PORT: port.default(4000),
  /** Interface the API binds; 0.0.0.0 in containers. */
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PUBLIC_URL: url.default('http://127.0.0.1:4000'),
  WEB_ORIGIN: url.default('http://127.0.0.1:3000'),

  S3_ENDPOINT: url.default('http://127.0.0.1:4569'),
  S3_REGION: z.string().default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().default('cmp-dev-s3-access-key'),
  S3_SECRET_ACCESS_KEY: z.string().default('cmp-dev-s3-secret-key'),
  S3_ARTIFACT_BUCKET: z.string().default('cmp-artifacts'),

  // The local stack's Keycloak realm (npm run dev); production: https://sso.example.com/realms/cmp.
  OIDC_ISSUER: url.default('http://127.0.0.1:4010/realms/cmp'),
  OIDC_AUDIENCE: z.string().default('cmp-api'),
  OIDC_ROLES_CLAIM: z.string().default('realm_access.roles'),
  OIDC_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).default(30),
  // The store's confidential client: Keycloak client "cmp-store" (deploy/keycloak/realm-export.json).
  OIDC_CLIENT_ID: z.string().min(1).default('cmp-store'),
  OIDC_CLIENT_SECRET: z.string().min(1).default('cmp-store-dev-secret'),

  LANGFLOW_URL: url.default('http://127.0.0.1:7860'),
  LANGFLOW_API_KEY: z.string().min(1).default('cmp-dev-langflow-key'),
  LANGFLOW_RUN_TIMEOUT_MS: positiveInt.default(30_000),
  /** Langflow's UI (the studio), when it runs; the publisher console opens a version's flow there. Unset: no studio link. */
  STUDIO_URL: url.optional(),

  /** Largest Langflow flow export a publisher may upload, in bytes. */
  FLOW_MAX_BYTES: positiveInt.max(4 * 1024 * 1024).default(1024 * 1024),
  /** Component types a published flow may use, comma-separated; empty: the launch agents' and Langflow's basic text components. */
  FLOW_ALLOWED_COMPONENTS: z.string().default(''),
  /** Deadline of each example input run while a version is checked. */
  VERSION_CHECK_RUN_TIMEOUT_MS: positiveInt.default(30_000),

  SALEOR_API_URL: url.default('http://127.0.0.1:4020/graphql/'),
  SALEOR_APP_TOKEN: z.string().default('saleor-sandbox-app-token'),
  SALEOR_CHANNEL: z.string().default('default-channel'),
  // Defaults are the Saleor sandbox's seeded ids; production sets its own.
  SALEOR_PAYMENT_GATEWAY_ID: z.string().min(1).default('saleor.io.dummy-payment-app'),
  SALEOR_WAREHOUSE_ID: z.string().min(1).default('V2FyZWhvdXNlOjhlMmIzYTUyLTJhNWUtNGY1ZS05ZDhlLTBjNmYzZjFhMDAwMQ=='),
  SALEOR_PRODUCT_TYPE_ID: z.string().min(1).default('UHJvZHVjdFR5cGU6MQ=='),
  SALEOR_CATEGORY_ID: z.string().min(1).default('Q2F0ZWdvcnk6MQ=='),
  SALEOR_REQUEST_TIMEOUT_MS: positiveInt.default(10_000),
  /** JWKS for webhook signatures; `<Saleor origin>/.well-known/jwks.json` when unset. */
  SALEOR_JWKS_URL: url.optional(),
  /** Where the Saleor sandbox delivers webhooks (real Saleor has this in its webhook settings). */
  SALEOR_WEBHOOK_TARGET_URL: url.default('http://127.0.0.1:4000/integrations/saleor/webhooks'),

  VAULT_ADDR: url.default('http://127.0.0.1:4030'),
  VAULT_TOKEN: z.string().default('cmp-dev-vault-token'),
  VAULT_KV_MOUNT: z.string().default('secret'),

  GITOPS_MODE: z.enum(['local', 'github']).default('local'),
  GITOPS_LOCAL_REPO: z.string().default('.data/gitops.git'),
  GITOPS_BRANCH: z.string().default('main'),
  GITHUB_TOKEN: z.string().optional(),
  GITHUB_OWNER: z.string().optional(),
  GITHUB_REPO: z.string().optional(),

  // Mail (invitations). Unset SMTP_URL: mails are printed to the log and the workspace page shows invitation links (dev stack).
  SMTP_URL: url.optional(),
  MAIL_FROM: z.string().min(3).default('CMP <no-reply@cmp.local>'),
  /** How long an invitation link stays valid. */
  INVITATION_TTL_HOURS: positiveInt.default(168),

  STARTER_CREDITS: z.coerce.number().int().min(0).default(100),
  DEMO_MESSAGES_PER_VISITOR: positiveInt.default(5),
  DEMO_MESSAGES_PER_IP_PER_DAY: positiveInt.default(20),
  RUN_SYNC_WAIT_MS: positiveInt.default(25_000),
  SIGNING_SECRET: z.string().min(32).default('dev-only-signing-secret-change-me-in-production'),

  // Connector gateway (workflow connectorCall). Egress to private, loopback, link-local and metadata
  // addresses is refused unless allowed here: a comma list of CIDRs or host:port entries.
  CONNECTOR_EGRESS_ALLOW: z.string().default(''),
  /** Where flows reach the gateway; API_PUBLIC_URL when unset. */
  CONNECTOR_GATEWAY_URL: url.optional(),
  /** Whole deadline of one connector call (secret read, tool call, retries). */
  CONNECTOR_CALL_TIMEOUT_MS: positiveInt.default(30_000),
  /** Deadline of one request to a tool. */
  CONNECTOR_TOOL_TIMEOUT_MS: positiveInt.default(10_000),
  CONNECTOR_MAX_RESPONSE_BYTES: positiveInt.default(1_048_576),
  CONNECTOR_PRICE_PER_CALL_MC: z.coerce.number().int().min(0).default(100),

  // Observability (docs/runbook.md). The API's /metrics port, on API_HOST, never routed from outside
  // (also /healthz and /readyz; unset: no metrics served; 0: any free port).
  API_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** A worker's /metrics, /healthz and /readyz port (unset: none; 0: any free port). */
  WORKER_HEALTH_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Interface the worker's health port binds; 0.0.0.0 in containers. */
  WORKER_HEALTH_HOST: z.string().min(1).default('127.0.0.1'),
  /** Where the Temporal SDK's own worker metrics are served for Prometheus (its Runtime's port; unset: none). */
  TEMPORAL_SDK_METRICS_PORT: port.optional(),
  /** OTLP/HTTP endpoint for traces (e.g. http://otel-collector:4318); unset: no traces are exported. */
  OTEL_EXPORTER_OTLP_ENDPOINT: url.optional(),
});

/**
 * Secrets whose defaults serve the local stack's sandboxes (and .env.example's dev values): production
 * refuses them all, each by name, so a forgotten one cannot slip through behind the first.
 */
export const SANDBOX_SECRETS = [
  'VAULT_TOKEN', 'SALEOR_APP_TOKEN', 'OIDC_CLIENT_SECRET', 'LANGFLOW_API_KEY', 'SIGNING_SECRET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY',
] as const;
/** What the dev values look like (cmp-dev-…, dev-only-…, the sandboxes' own tokens): every default above matches. */
const SANDBOX_VALUE = /^(cmp-dev-|dev-only|saleor-sandbox|cmp-store-dev)/;

export const configSchema = configObject
  .superRefine((c, ctx) => {
    if (c.NODE_ENV === 'production') {
      for (const key of SANDBOX_SECRETS) {
        if (SANDBOX_VALUE.test(c[key])) {
          ctx.addIssue({ code: 'custom', path: [key], message: 'is a sandbox default; production needs its own secret' });
        }
      }
    }
    // Without SMTP, invitation mails (their links included) would only reach the API's log.
    if (c.NODE_ENV === 'production' && !c.SMTP_URL) {
      ctx.addIssue({ code: 'custom', path: ['SMTP_URL'], message: 'required in production (without it invitations are only logged)' });
    }
    if (c.GITOPS_MODE === 'github') {
      for (const key of ['GITHUB_TOKEN', 'GITHUB_OWNER', 'GITHUB_REPO'] as const) {
        if (!c[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'required when GITOPS_MODE=github' });
      }
    }
  });

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset", as in most .env files.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return parsed.data;
}
