// Builds every business router from its ports. This is the only place that
// knows which store, ledger and client each context gets.
import type { Client } from '@temporalio/client';
import { Router, json } from 'express';
import { ApiKeyStore } from '../core/api-keys/store';
import { AuditLog } from '../core/audit';
import type { Clients } from '../core/clients';
import type { FlowArtifacts, FlowValidator } from '../core/catalog/publishing';
import { CatalogStore } from '../core/catalog/store';
import { OfferingStatsStore } from '../core/catalog/offering-stats';
import { allowedComponents } from '../core/artifacts/allowed-components';
import type { Config } from '../core/config';
import type { Db } from '../core/db';
import { createKnexUserStore, createTokenVerifier, type TokenVerifier } from '../core/identity';
import { KnexIdempotencyKeyStore } from '../core/idempotency/store';
import { KnexInstanceStore } from '../core/instances/store';
import { KnexOrderStore, KnexWebhookEventStore } from '../core/orders/store';
import { RateLimiter } from '../core/runs/rate-limiter';
import { KnexDemoVisitorStore, KnexRunStore } from '../core/runs/store';
import { createLedger, type Ledger } from '../core/ledger';
import type { Logger } from '../core/logger';
import type { SaleorClient } from '../core/saleor/client';
import type { SaleorWebhookVerifier } from '../core/saleor/webhook-signature';
import { TenancyStore } from '../core/tenancy/store';
import { RunStreamHub } from '../core/runs/run-stream-hub';
import { createOrderRouter, createSaleorWebhookRouter } from './orders/routes';
import { createConnectorRouter } from './connectors/routes';
import { createInstanceMcpRouter } from './connectors/mcp';
import { ConnectorStore } from '../core/connectors/store';
import { createSecretStore, type SecretStore } from '../core/secrets';
import { CONNECTORS_TASK_QUEUE } from '../core/connectors/contract';
import { PROVISIONING_TASK_QUEUE } from '../core/provisioning/contract';
import { RUNS_TASK_QUEUE } from '../core/runs/contract';
import { createSupportRouter } from './support/routes';
import { createApiKeyRouter } from './api-keys/routes';
import { createCatalogRouter } from './catalog/routes';
import { createDocsRouter } from './docs/routes';
import { createInstanceRouter } from './instances/routes';
import { requireRole, requireUser } from './middleware/auth';
import { idempotency } from './middleware/idempotency';
import { apiKeyOrUser, requireApiKey } from './middleware/api-key';
import { createBalanceRouter } from './usage/balance-routes';
import { createRunRouter } from './runs/routes';
import { OPENAI_PATHS, createOpenAiRouter } from './openai/routes';
import { openAiErrorHandler } from './openai/errors';
import { ApiDefinition } from './openapi';
import { createTenancyRouter } from './tenancy/routes';
import { createMemberRouter } from './tenancy/members-routes';
import { MembersStore } from '../core/tenancy/members';
import { InvitationStore } from '../core/tenancy/invitations';
import { createInvitationRouter } from './tenancy/invitation-routes';
import { createMailSender, type MailSender } from '../core/mail';
import { createUsageRouter } from './usage/routes';
import { createWalletRouter } from './wallets/routes';

export interface RouteDeps {
  config: Config;
  db: Db;
  temporal: Client;
  logger: Logger;
  artifacts: FlowArtifacts;
  validateFlow: FlowValidator;
  saleor: SaleorClient;
  webhookVerifier: SaleorWebhookVerifier;
  /** Tests pass a verifier for their provider; production builds one from the config. */
  verifier?: TokenVerifier;
  /** The process's ledger (one batcher per process); a new one over db when absent. */
  ledger?: Ledger;
  /** The process's stores, as core/clients.ts built them; any one absent is built over db (tests, api:types). */
  stores?: Partial<RouteStores>;
  /** Task queues the API starts workflows on; tests give each file its own. */
  taskQueues?: { provisioning: string; runs: string; connectors?: string };
  /** Outgoing mail (invitations); built from the config when absent (SMTP_URL, else the log). */
  mail?: MailSender;
  /** Connector secrets (Vault); built from the config when absent. */
  secrets?: SecretStore;
}

/** The stores the routers share with the rest of the process (the ledger is passed on its own). */
export type RouteStores = Pick<Clients, 'catalog' | 'tenancy' | 'apiKeys' | 'instances' | 'orders' | 'runs' | 'audit' | 'users'>;

export interface Platform {
  routers: Router[];
  api: ApiDefinition;
  ledger: Ledger;
  close(): Promise<void>;
}

/** JSON bodies up to 256 KiB, except flow uploads (admin), which may be larger. */
export const BODY_LIMIT = '256kb';

export async function createRouters(deps: RouteDeps): Promise<Platform> {
  const { config, db } = deps;
  const stores = deps.stores ?? {};
  const tenancy = stores.tenancy ?? new TenancyStore(db);
  // Every route declares the workspace role it needs; the definition enforces it with the memberships.
  const api = new ApiDefinition(tenancy);
  const ledger = deps.ledger ?? createLedger(db);
  const catalog = stores.catalog ?? new CatalogStore(db);
  const keys = stores.apiKeys ?? new ApiKeyStore(db);
  const instances = stores.instances ?? new KnexInstanceStore(db);
  const orders = stores.orders ?? new KnexOrderStore(db);
  const webhookEvents = new KnexWebhookEventStore(db);
  const runs = stores.runs ?? new KnexRunStore(db);
  const limiter = new RateLimiter(db);
  const audit = stores.audit ?? new AuditLog(db);
  const verifier = deps.verifier ?? createTokenVerifier({
    issuer: config.OIDC_ISSUER, audience: config.OIDC_AUDIENCE, rolesClaim: config.OIDC_ROLES_CLAIM, clockToleranceSec: config.OIDC_CLOCK_TOLERANCE_S,
  });
  const users = stores.users ?? createKnexUserStore(db);
  const user = requireUser({ verifier, users });
  const idem = idempotency(new KnexIdempotencyKeyStore(db));
  const taskQueues = deps.taskQueues ?? { provisioning: PROVISIONING_TASK_QUEUE, runs: RUNS_TASK_QUEUE };
  const streams = new RunStreamHub(config.DATABASE_URL, (err) => deps.logger.warn({ err }, 'run stream listener failed'));

  const body = Router();
  // Flow uploads carry a whole Langflow export; everything else is small.
  body.use('/v1/admin', json({ limit: '5mb' }));
  body.use(json({ limit: BODY_LIMIT }));
  // Express hands an error only to error handlers of the router it arose in: bad JSON for the OpenAI routes is answered here, in OpenAI's shape.
  body.use(OPENAI_PATHS, openAiErrorHandler);

  const routers = [
    // First: the Saleor webhook reads its raw body before any JSON parser does.
    createSaleorWebhookRouter({ api, orders, webhookEvents, temporal: deps.temporal, webhookVerifier: deps.webhookVerifier, taskQueue: taskQueues.provisioning }),
    body,
    createOrderRouter({
      api, taskQueue: taskQueues.provisioning, orders, webhookEvents, temporal: deps.temporal, catalog, instances, tenancy, saleor: deps.saleor, webhookVerifier: deps.webhookVerifier, logger: deps.logger,
      requireUser: user, idempotency: idem,
    }),
    createCatalogRouter({
      api, catalog, artifacts: deps.artifacts, validateFlow: deps.validateFlow, audit, requireUser: user, requireAdmin: requireRole('admin'), idempotency: idem,
      temporal: deps.temporal, taskQueue: taskQueues.provisioning, stats: new OfferingStatsStore(db), logger: deps.logger, studioUrl: config.STUDIO_URL,
      flowPolicy: { maxBytes: config.FLOW_MAX_BYTES, allowedComponents: allowedComponents(config.FLOW_ALLOWED_COMPONENTS) }, checkRunTimeoutMs: config.VERSION_CHECK_RUN_TIMEOUT_MS,
    }),
    createTenancyRouter({ api, tenancy, ledger, starterCreditsMc: config.STARTER_CREDITS * 1000, requireUser: user, idempotency: idem }),
    createMemberRouter({ api, members: new MembersStore(db), audit, requireUser: user, idempotency: idem }),
    createInvitationRouter({
      api, invitations: new InvitationStore(db, config.SIGNING_SECRET), mail: deps.mail ?? createMailSender(config, deps.logger), audit,
      webOrigin: config.WEB_ORIGIN, ttlHours: config.INVITATION_TTL_HOURS, requireUser: user, idempotency: idem,
    }),
    createWalletRouter({ api, ledger, tenancy, requireUser: user, requireService: requireRole('admin'), idempotency: idem }),
    createApiKeyRouter({ api, keys, tenancy, audit, requireUser: user, idempotency: idem }),
    createInstanceRouter({ api, instances, tenancy, requireUser: user }),
    // Usage is read by members and by API keys with the usage:read scope.
    createUsageRouter({ api, runs, tenancy, requireUser: apiKeyOrUser(requireApiKey(keys, 'usage:read'), user) }),
    createBalanceRouter({ api, ledger, requireUsageKey: requireApiKey(keys, 'usage:read') }),
    createRunRouter({
      api, temporal: deps.temporal, ledger, catalog, instances, runs, demoVisitors: new KnexDemoVisitorStore(db), tenancy, limiter, config, taskQueue: taskQueues.runs, requireApiKey: requireApiKey(keys), requireUser: user, idempotency: idem, streams,
    }),
    createOpenAiRouter({ api, temporal: deps.temporal, config, instances, runs, ledger, limiter, taskQueue: taskQueues.runs, streams, requireApiKey: requireApiKey(keys) }),
    createSupportRouter({
      api, orders, temporal: deps.temporal, ledger, instances, audit, temporalUiUrl: config.TEMPORAL_UI_URL, namespace: config.TEMPORAL_NAMESPACE,
      requireUser: user, requireSupport: requireRole('support', 'admin'), idempotency: idem,
    }),
  ];
  const connectors = new ConnectorStore(db);
  const connectorsQueue = taskQueues.connectors ?? CONNECTORS_TASK_QUEUE;
  routers.push(createConnectorRouter({
    api, temporal: deps.temporal, config, connectors, secrets: deps.secrets ?? createSecretStore(config, deps.logger), instances, tenancy, audit,
    taskQueue: connectorsQueue, requireUser: user, idempotency: idem,
  }));
  routers.push(createInstanceMcpRouter({
    api, temporal: deps.temporal, config, connectors, instances, runs, ledger, limiter, taskQueues: { runs: taskQueues.runs, connectors: connectorsQueue }, requireApiKey: requireApiKey(keys),
  }));
  routers.push(createDocsRouter(api, config.API_PUBLIC_URL));
  return { routers, api, ledger, close: () => streams.close() };
}
