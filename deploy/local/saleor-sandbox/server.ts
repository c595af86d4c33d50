// Entry of the Saleor sandbox (started by tsx from the local stack and the
// test setup). Saleor sandbox — local stand-in, not Saleor: never the
// product's code path in production.
//
// Environment:
//   SALEOR_SANDBOX_PORT            port (default 4020)
//   SALEOR_SANDBOX_DATA_DIR        state, signing key (default .data/saleor-sandbox)
//   SALEOR_SANDBOX_PUBLIC_URL      origin it is reached at (default http://127.0.0.1:<port>)
//   SALEOR_WEBHOOK_TARGET_URL      where ORDER_FULLY_PAID is delivered
//   SALEOR_APP_TOKEN               the app token CMP sends as Bearer
//   SALEOR_PAYMENT_GATEWAY_ID      the payment app id transactionInitialize must name
//   SALEOR_SANDBOX_RETRY_BASE_MS   webhook retry backoff base (default 10000, Saleor's 10 s)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { createLogger } from '../../../core/logger';
import { loadConfig } from '../../../core/config';
import { SANDBOX_BANNER, createSaleorSandbox } from './app';
import { loadSandboxSchema } from './schema';

const log = createLogger('saleor-sandbox');
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function main(): Promise<void> {
  const config = loadConfig();
  const env = z
    .object({
      SALEOR_SANDBOX_PORT: z.coerce.number().int().min(1).max(65535).default(4020),
      SALEOR_SANDBOX_DATA_DIR: z.string().default(path.join(repoRoot, '.data/saleor-sandbox')),
      SALEOR_SANDBOX_PUBLIC_URL: z.string().url().optional(),
      SALEOR_SANDBOX_RETRY_BASE_MS: z.coerce.number().int().positive().default(10_000),
    })
    .parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== '')));
  const publicUrl = (env.SALEOR_SANDBOX_PUBLIC_URL ?? `http://127.0.0.1:${env.SALEOR_SANDBOX_PORT}`).replace(/\/+$/, '');

  const sandbox = await createSaleorSandbox({
    dataDir: env.SALEOR_SANDBOX_DATA_DIR,
    publicUrl,
    webhookTargetUrl: config.SALEOR_WEBHOOK_TARGET_URL,
    appToken: config.SALEOR_APP_TOKEN,
    paymentGatewayId: config.SALEOR_PAYMENT_GATEWAY_ID,
    retryBaseMs: env.SALEOR_SANDBOX_RETRY_BASE_MS,
    schema: loadSandboxSchema(),
    log,
  });
  await sandbox.listen(env.SALEOR_SANDBOX_PORT);
  log.warn(`${SANDBOX_BANNER}: GraphQL at ${publicUrl}/graphql/, pay page at ${publicUrl}/checkout/<id>/pay`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    sandbox.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'Saleor sandbox failed to start');
  process.exit(1);
});
