// The API's entry point: builds the real clients from the configuration,
// serves the app, and closes every connection on SIGINT/SIGTERM. Exits non-zero
// on a fatal error.
import { S3Client } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import type { Server } from 'node:http';
import { loadConfig } from '../core/config';
import { createDb } from '../core/db';
import { createLogger } from '../core/logger';
import { createApp } from './app';
import { createProbes } from './health/probes';
import { createRouters } from './routes';

const logger = createLogger('api');

async function main(): Promise<void> {
  const config = loadConfig();
  const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const s3 = new S3Client({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const routers = await createRouters({ config, db, temporal, logger, s3 });
  const app = createApp({ logger, webOrigin: config.WEB_ORIGIN, probes: createProbes(config, db, connection, s3), routers: routers.routers });
  const server: Server = app.listen(config.API_PORT, '127.0.0.1', () => logger.info({ port: config.API_PORT }, 'api listening'));
  server.keepAliveTimeout = 65_000;

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'api stopping');
    server.close();
    await routers.close();
    await connection.close();
    await db.destroy();
    s3.destroy();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err) => {
  logger.fatal({ err }, 'api failed to start');
  process.exit(1);
});
