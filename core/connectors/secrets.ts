// A binding's credentials: where they live in Vault, how they become request
// headers, and how they travel between two activities without ever being
// written in clear into Temporal's history (sealed with AES-256-GCM under a
// key derived from SIGNING_SECRET, bound to one call id).
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { assertSecretPath } from '../secrets';
import type { ConnectorSecretInput } from './types';

/** cmp/orgs/<org>/instances/<instance>/connectors/<binding> */
export function connectorSecretPath(orgId: string, instanceId: string, bindingId: string): string {
  const path = ['cmp', 'orgs', orgId, 'instances', instanceId, 'connectors', bindingId].join('/');
  assertSecretPath(path);
  return path;
}

/** The KV fields written to Vault for a secret. */
export function secretToKv(secret: ConnectorSecretInput): Record<string, string> {
  switch (secret.kind) {
    case 'api_key':
      return { kind: 'api_key', header: secret.header.toLowerCase(), value: secret.value };
    case 'bearer':
      return { kind: 'bearer', token: secret.token };
    case 'basic':
      return { kind: 'basic', username: secret.username, password: secret.password };
  }
}

/** The headers that carry the secret on a tool request. */
export function authHeaders(kv: Record<string, string>): Record<string, string> {
  switch (kv.kind) {
    case 'api_key':
      return { [kv.header!.toLowerCase()]: kv.value! };
    case 'bearer':
      return { authorization: `Bearer ${kv.token}` };
    case 'basic':
      return { authorization: `Basic ${Buffer.from(`${kv.username}:${kv.password}`).toString('base64')}` };
    default:
      throw new Error(`Unknown connector secret kind ${JSON.stringify(kv.kind)}`);
  }
}

const sealKey = (signingSecret: string) => Buffer.from(hkdfSync('sha256', signingSecret, 'cmp', 'cmp-connector-secret-seal', 32));

/** Encrypts the KV fields for one call; only `openSealedSecret` with the same call id reads them. */
export function sealSecret(signingSecret: string, callId: string, kv: Record<string, string>): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(signingSecret), iv);
  cipher.setAAD(Buffer.from(callId));
  const data = Buffer.concat([cipher.update(JSON.stringify(kv), 'utf8'), cipher.final()]);
  return [iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url')).join('.');
}

export function openSealedSecret(signingSecret: string, callId: string, sealed: string): Record<string, string> {
  const [iv, tag, data] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
  if (!iv || !tag || !data) throw new Error('Malformed sealed secret');
  const decipher = createDecipheriv('aes-256-gcm', sealKey(signingSecret), iv);
  decipher.setAAD(Buffer.from(callId));
  decipher.setAuthTag(tag);
  return JSON.parse(Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8')) as Record<string, string>;
}
