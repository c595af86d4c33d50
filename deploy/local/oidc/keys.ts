// The dev provider's secrets: an RS256 signing key (published at the JWKS) and
// the cookie-signing keys. Generated on first start and kept in the data
// folder, so tokens and browser sessions survive a restart of the provider.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

export interface ProviderKeys {
  /** Private JWKs, newest first (oidc-provider signs with the first). */
  signingKeys: JWK[];
  cookieKeys: string[];
}

interface StoredKeys {
  signingKeys: JWK[];
  cookieKeys: string[];
}

export async function loadOrCreateKeys(dataDir: string): Promise<ProviderKeys> {
  const file = path.join(dataDir, 'keys.json');
  if (fs.existsSync(file)) {
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as StoredKeys;
    if (stored.signingKeys?.length && stored.cookieKeys?.length) return stored;
  }
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  const signingKey: JWK = { ...jwk, kid: await calculateJwkThumbprint(jwk), use: 'sig', alg: 'RS256' };
  const keys: StoredKeys = { signingKeys: [signingKey], cookieKeys: [randomBytes(32).toString('base64url')] };
  fs.mkdirSync(dataDir, { recursive: true });
  // Written whole then renamed: a crash never leaves half a key file.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(keys, null, 2), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return keys;
}
