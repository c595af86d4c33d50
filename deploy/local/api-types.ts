// The store's typed API client is generated from the API's OpenAPI document:
// this builds the document exactly as the API serves it at /openapi.json (the
// same routers, over clients that connect lazily and are never called) and
// turns it into TypeScript with openapi-typescript.
//   npm run api:types     rewrites web/src/lib/api/schema.d.ts
// test/unit/api-types.test.ts fails when the committed file is stale.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import openapiTS, { astToString } from 'openapi-typescript';
import { createRouters } from '../../api/routes';
import { S3ArtifactStore, s3OptionsFromConfig, validateFlow } from '../../core/artifacts';
import { loadConfig } from '../../core/config';
import { createDb } from '../../core/db';
import { createLogger } from '../../core/logger';
import { createSaleorClient } from '../../core/saleor/client';
import { createSaleorWebhookVerifier } from '../../core/saleor/webhook-signature';
import { repoRoot, stackEnv, testLayout } from './stack';

export const API_TYPES_FILE = path.join(repoRoot, 'web/src/lib/api/schema.d.ts');

export async function apiDocument(): Promise<Record<string, unknown>> {
  const config = loadConfig({ ...stackEnv(testLayout(0)), LOG_LEVEL: 'silent' });
  const logger = createLogger('api-types', 'silent');
  const db = createDb(config.DATABASE_URL, 1);
  const temporal = new Client({ connection: Connection.lazy({ address: config.TEMPORAL_ADDRESS }) });
  try {
    const platform = await createRouters({
      config, db, temporal, logger, saleor: createSaleorClient(config), artifacts: new S3ArtifactStore(s3OptionsFromConfig(config)),
      validateFlow: (flow) => validateFlow(flow).problems, webhookVerifier: createSaleorWebhookVerifier({ saleorApiUrl: config.SALEOR_API_URL }),
    });
    await platform.close();
    return platform.api.document('http://127.0.0.1:4000') as Record<string, unknown>;
  } finally {
    await db.destroy();
    await temporal.connection.close().catch(() => undefined);
  }
}

export async function apiTypes(): Promise<string> {
  const ast = await openapiTS(JSON.parse(JSON.stringify(await apiDocument())), { alphabetize: true });
  return `// Generated from the API's /openapi.json by \`npm run api:types\`; do not edit.\n${astToString(ast)}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fs.writeFileSync(API_TYPES_FILE, await apiTypes());
  console.log(`wrote ${path.relative(repoRoot, API_TYPES_FILE)}`);
}
