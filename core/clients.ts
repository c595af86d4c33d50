// Builds the production clients of every external system from the
// configuration. Only entry points (api/server.ts, workers/*) call this; tests
// build their own clients and pass them in.
import { S3ArtifactStore, s3OptionsFromConfig } from './artifacts';
import { CatalogStore } from './catalog/store';
import type { Config } from './config';
import { createDb, type Db } from './db';
import { createGitOpsRepo, type GitOpsRepo } from './gitops';
import { ApiKeyStore } from './api-keys/store';
import { AuditLog } from './audit';
import { createKnexUserStore, type UserStore } from './identity/user-store';
import { KnexInstanceStore, type InstanceStore } from './instances/store';
import { KnexOrderStore, type OrderStore } from './orders/store';
import { KnexRunStore, type RunStore } from './runs/store';
import { createLedger, type Ledger } from './ledger';
import type { Logger } from './logger';
import { ledgerMetrics } from './metrics/business';
import { LangflowRuntime, langflowOptionsFromConfig } from './runtime/langflow-runtime';
import type { AgentRuntime } from './runtime/agent-runtime';
import { createSaleorClient, type SaleorClient } from './saleor/client';
import { createSecretStore, type SecretStore } from './secrets';
import { TenancyStore } from './tenancy/store';

export interface Clients {
  db: Db;
  ledger: Ledger;
  catalog: CatalogStore;
  instances: InstanceStore;
  orders: OrderStore;
  runs: RunStore;
  apiKeys: ApiKeyStore;
  audit: AuditLog;
  users: UserStore;
  tenancy: TenancyStore;
  artifacts: S3ArtifactStore;
  runtime: AgentRuntime;
  saleor: SaleorClient;
  secrets: SecretStore;
  gitops: GitOpsRepo;
  close(): Promise<void>;
}

export function createClients(config: Config, logger: Logger): Clients {
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  const artifacts = new S3ArtifactStore(s3OptionsFromConfig(config));
  const runtime = new LangflowRuntime(langflowOptionsFromConfig(config));
  return {
    db,
    ledger: createLedger(db, { observer: ledgerMetrics }),
    catalog: new CatalogStore(db),
    instances: new KnexInstanceStore(db),
    orders: new KnexOrderStore(db),
    runs: new KnexRunStore(db),
    apiKeys: new ApiKeyStore(db),
    audit: new AuditLog(db),
    users: createKnexUserStore(db),
    tenancy: new TenancyStore(db),
    artifacts,
    runtime,
    saleor: createSaleorClient(config),
    secrets: createSecretStore(config, logger),
    gitops: createGitOpsRepo(config, logger),
    async close() {
      await runtime.close();
      artifacts.client.destroy();
      await db.destroy();
    },
  };
}
