// The realm file against the local stack's layouts: every store the stack can
// start (dev, and the web port of each of the ten test slots) may receive codes
// and be returned to after logout, and the realm's settings are the ones the
// store and API rely on. A port moved in deploy/local/stack.ts without the realm
// following would otherwise show up as "Invalid parameter: redirect_uri" in a browser.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { devLayout, realmExportPath, testLayout } from '../../deploy/local/stack';

interface Client {
  clientId: string;
  secret?: string;
  publicClient: boolean;
  standardFlowEnabled: boolean;
  directAccessGrantsEnabled: boolean;
  implicitFlowEnabled: boolean;
  redirectUris: string[];
  attributes: Record<string, string>;
  protocolMappers?: { protocolMapper: string; config: Record<string, string> }[];
}

const realm = JSON.parse(fs.readFileSync(realmExportPath, 'utf8')) as {
  realm: string;
  registrationAllowed: boolean;
  verifyEmail: boolean;
  clients: Client[];
  defaultRole: { name: string };
  roles: { realm: { name: string; composites?: { realm: string[] } }[] };
  users: { email: string; emailVerified: boolean; enabled: boolean; requiredActions: string[]; realmRoles: string[] }[];
};
const store = realm.clients.find((c) => c.clientId === 'cmp-store')!;
const origins = [devLayout(), ...Array.from({ length: 10 }, (_, slot) => testLayout(slot))].flatMap((l) => [
  `http://127.0.0.1:${l.ports.web}`,
  `http://localhost:${l.ports.web}`,
]);

describe('realm cmp', () => {
  it('lets the store of every local layout receive codes and come back after logout', () => {
    const postLogout = store.attributes['post.logout.redirect.uris']!.split('##');
    for (const origin of origins) {
      expect(store.redirectUris).toContain(`${origin}/auth/callback`);
      expect(postLogout).toContain(`${origin}/`);
    }
  });

  it('makes cmp-store a confidential code-flow client that must use S256 PKCE, with its secret from the environment', () => {
    expect(store).toMatchObject({ publicClient: false, standardFlowEnabled: true, directAccessGrantsEnabled: false, implicitFlowEnabled: false });
    expect(store.attributes['pkce.code.challenge.method']).toBe('S256');
    // Never a literal secret in the file: Keycloak resolves the placeholder at import.
    expect(store.secret).toBe('${CMP_STORE_CLIENT_SECRET}');
    const audience = store.protocolMappers?.find((m) => m.protocolMapper === 'oidc-audience-mapper');
    expect(audience?.config).toMatchObject({ 'included.client.audience': 'cmp-api', 'access.token.claim': 'true' });
  });

  it('lets visitors register, as buyers, without a mail server', () => {
    expect(realm.registrationAllowed).toBe(true);
    expect(realm.verifyEmail).toBe(false);
    const defaults = realm.roles.realm.find((r) => r.name === realm.defaultRole.name);
    expect(defaults?.composites?.realm).toContain('buyer');
  });

  it("keeps descriptions within Keycloak's 255-character column (a longer one fails the import)", () => {
    const descriptions = [...realm.clients, ...realm.roles.realm].map((x) => (x as { description?: string }).description ?? '');
    for (const d of descriptions) expect(d.length, d).toBeLessThanOrEqual(255);
  });

  it('seeds the README logins, ready to sign in', () => {
    expect(realm.users.map((u) => u.email).sort()).toEqual(['admin@cmp.local', 'buyer2@cmp.local', 'buyer@cmp.local', 'support@cmp.local']);
    for (const user of realm.users) {
      expect(user).toMatchObject({ emailVerified: true, enabled: true, requiredActions: [] });
      expect(user.realmRoles).toContain('default-roles-cmp');
    }
    expect(realm.users.find((u) => u.email === 'support@cmp.local')!.realmRoles).toContain('support');
    expect(realm.users.find((u) => u.email === 'admin@cmp.local')!.realmRoles).toContain('admin');
  });
});
