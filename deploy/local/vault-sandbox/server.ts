// Entry of the Vault sandbox (a local stand-in for Vault KV v2; see app.ts).
// Env: VAULT_SANDBOX_PORT, VAULT_SANDBOX_DATA_DIR, VAULT_TOKEN, VAULT_KV_MOUNT,
// VAULT_SANDBOX_ENCRYPTION_KEY (optional: encrypts the state file at rest).
import path from 'node:path';
import { createLogger } from '../../../core/logger';
import { createVaultSandbox } from './app';

const logger = createLogger('vault-sandbox');

function main(): void {
  const port = Number(process.env.VAULT_SANDBOX_PORT ?? 4030);
  const dataDir = process.env.VAULT_SANDBOX_DATA_DIR ?? path.resolve('.data/vault-sandbox');
  const token = process.env.VAULT_TOKEN ?? 'vault-sandbox-root-token';
  const { app } = createVaultSandbox({
    token,
    mounts: [process.env.VAULT_KV_MOUNT || 'secret'],
    stateFile: path.join(dataDir, 'kv-state.json'),
    encryptionKey: process.env.VAULT_SANDBOX_ENCRYPTION_KEY || undefined,
    logger,
  });
  const server = app.listen(port, '127.0.0.1', () => logger.info({ port, dataDir }, 'vault sandbox (local stand-in for Vault KV v2) listening'));
  server.on('error', (err) => {
    logger.fatal({ err }, 'vault sandbox failed');
    process.exit(1);
  });
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

try {
  main();
} catch (err) {
  logger.fatal({ err }, 'vault sandbox failed to start');
  process.exit(1);
}
