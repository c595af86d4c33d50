// Entry point of the development OIDC provider (stands in for Keycloak; see
// provider.ts). Started by `npm run dev` and the integration tests' global
// setup through startOidc() in deploy/local/stack.ts.
import http from 'node:http';
import path from 'node:path';
import { loadConfig } from '../../../core/config';
import { createLogger } from '../../../core/logger';
import { loadOrCreateKeys } from './keys';

const logger = createLogger('oidc');
// oidc-provider prints its notices with console.*; keep this process's output JSON.
console.info = (...args: unknown[]) => logger.info(args.map(String).join(' '));
console.warn = (...args: unknown[]) => logger.warn(args.map(String).join(' '));

async function main(): Promise<void> {
  const config = loadConfig();
  const issuer = config.OIDC_ISSUER.replace(/\/$/, '');
  const port = config.OIDC_PORT ?? Number(new URL(issuer).port || 80);
  const dataDir = path.resolve(config.OIDC_DATA_DIR);

  // Imported after console is redirected: oidc-provider warns while loading.
  const { createDevProvider } = await import('./provider');
  const provider = createDevProvider({
    issuer,
    keys: await loadOrCreateKeys(dataDir),
    logger,
    storeClientSecret: config.OIDC_CLIENT_SECRET,
    extraStoreOrigins: [new URL(config.WEB_ORIGIN).origin],
    accessTokenTtlSec: config.OIDC_ACCESS_TOKEN_TTL_S,
  });

  const server = http.createServer(provider.callback());
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  logger.info({ issuer, port, dataDir }, 'OIDC provider listening');

  const shutdown = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down');
    server.close(() => process.exit(0));
    // Idle keep-alive connections would hold close() open.
    server.closeIdleConnections();
    setTimeout(() => {
      server.closeAllConnections();
      process.exit(0);
    }, 3_000).unref();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  logger.fatal({ err }, 'OIDC provider failed to start');
  process.exit(1);
});
