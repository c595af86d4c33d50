// Secrets: the SecretStore port and its Vault (KV v2) implementation. Locally
// VAULT_ADDR points at OpenBao, the open-source Vault (deploy/local/openbao.ts).
import type { Config } from '../config';
import type { Logger } from '../logger';
import { VaultSecretStore } from './vault-secret-store';
import type { SecretStore } from './secret-store';

export * from './secret-store';
export { VaultSecretStore, classifyVaultError, type VaultSecretStoreOptions } from './vault-secret-store';

export function createSecretStore(config: Pick<Config, 'VAULT_ADDR' | 'VAULT_TOKEN' | 'VAULT_KV_MOUNT'>, logger?: Logger): SecretStore {
  return new VaultSecretStore({ endpoint: config.VAULT_ADDR, token: config.VAULT_TOKEN, mount: config.VAULT_KV_MOUNT, logger });
}
