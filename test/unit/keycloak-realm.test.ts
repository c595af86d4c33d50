// The realm file is production's: verified e-mail, production redirect URIs
// only, no seeded users. The local stack imports a copy patched for its layout
// (localRealm): the store of every layout it can start (dev, and each of the ten
// test slots) may receive codes and be returned to after logout, and the README's
// logins exist. A port moved in deploy/local/stack.ts without the copy following
// would otherwise show up as "Invalid parameter: redirect_uri" in a browser.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { devLayout, localRealm, realmExportPath, testLayout, type StackLayout } from '../../deploy/local/stack';

interface Client {
  clientId: string;
  secret?: string;
  publicClient: boolean;
  standardFlowEnabled: boolean;
  directAccessGrantsEnabled: boolean;
  implicitFlowEnabled: boolean;
  redirectUris: string[];
  webOrigins?: string[];
  attributes: Record<string, string>;
  protocolMappers?: { protocolMapper: string; config: Record<string, string> }[];
}

interface Realm {
  realm: string;
  registrationAllowed: boolean;
  verifyEmail: boolean;
  clients: Client[];
  defaultRole: { name: string };
  roles: { realm: { name: string; composites?: { realm: string[] } }[] };
  users?: { email: string; emailVerified: boolean; enabled: boolean; requiredActions: string[]; realmRoles: string[] }[];
}
const realm = JSON.parse(fs.readFileSync(realmExportPath, 'utf8')) as Realm;
const storeOf = (r: Realm) => r.clients.find((c) => c.clientId === 'cmp-store')!;
const store = storeOf(realm);
const layouts = [devLayout(), ...Array.from({ length: 10 }, (_, slot) => testLayout(slot))];
const local = (layout: StackLayout) => localRealm(layout) as unknown as Realm;

describe('realm cmp (the checked-in file, as production imports it)', () => {
  it('is production-safe: e-mail verified, production URIs only, no web origins, no seeded users', () => {
    expect(realm.verifyEmail).toBe(true);
    expect(realm.users ?? []).toEqual([]);
    expect(store.redirectUris).toEqual(['https://store.cmp.dev/auth/callback']);
    expect(store.attributes['post.logout.redirect.uris']).toBe('https://store.cmp.dev/');
    expect(store.webOrigins ?? []).toEqual([]);
    expect(JSON.stringify(realm)).not.toMatch(/127\.0\.0\.1|localhost|cmp-dev|cmp\.local/);
  });

  it('makes cmp-store a confidential code-flow client that must use S256 PKCE, with its secret from the environment', () => {
    expect(store).toMatchObject({ publicClient: false, standardFlowEnabled: true, directAccessGrantsEnabled: false, implicitFlowEnabled: false });
    expect(store.attributes['pkce.code.challenge.method']).toBe('S256');
    // Never a literal secret in the file: Keycloak resolves the placeholder at import.
    expect(store.secret).toBe('${CMP_STORE_CLIENT_SECRET}');
    const audience = store.protocolMappers?.find((m) => m.protocolMapper === 'oidc-audience-mapper');
    expect(audience?.config).toMatchObject({ 'included.client.audience': 'cmp-api', 'access.token.claim': 'true' });
  });

  it('lets visitors register, as buyers', () => {
    expect(realm.registrationAllowed).toBe(true);
    const defaults = realm.roles.realm.find((r) => r.name === realm.defaultRole.name);
    expect(defaults?.composites?.realm).toContain('buyer');
  });

  it("keeps descriptions within Keycloak's 255-character column (a longer one fails the import)", () => {
    const descriptions = [...realm.clients, ...realm.roles.realm].map((x) => (x as { description?: string }).description ?? '');
    for (const d of descriptions) expect(d.length, d).toBeLessThanOrEqual(255);
  });

});

describe("realm cmp (the local stack's copy, localRealm)", () => {
  it("lets each layout's store, and only it, receive codes and come back after logout", () => {
    for (const layout of layouts) {
      const copy = storeOf(local(layout));
      const origins = [`http://127.0.0.1:${layout.ports.web}`, `http://localhost:${layout.ports.web}`];
      expect(copy.redirectUris.sort()).toEqual(origins.map((o) => `${o}/auth/callback`).sort());
      expect(copy.attributes['post.logout.redirect.uris']!.split('##').sort()).toEqual(origins.map((o) => `${o}/`).sort());
      expect(copy.webOrigins ?? []).toEqual([]);
      // Everything else is production's client.
      expect({ ...copy, redirectUris: [], attributes: { ...copy.attributes, 'post.logout.redirect.uris': '' } }).toEqual({
        ...store, redirectUris: [], attributes: { ...store.attributes, 'post.logout.redirect.uris': '' },
      });
    }
  });

  it('lets visitors register without a mail server', () => {
    expect(local(testLayout(0)).verifyEmail).toBe(false);
    expect(local(devLayout()).registrationAllowed).toBe(true);
  });

  it('seeds the README logins, ready to sign in', () => {
    const users = local(devLayout()).users!;
    expect(users.map((u) => u.email).sort()).toEqual(['admin@cmp.local', 'buyer2@cmp.local', 'buyer@cmp.local', 'support@cmp.local']);
    for (const user of users) {
      expect(user).toMatchObject({ emailVerified: true, enabled: true, requiredActions: [] });
      expect(user.realmRoles).toContain('default-roles-cmp');
    }
    expect(users.find((u) => u.email === 'support@cmp.local')!.realmRoles).toContain('support');
    expect(users.find((u) => u.email === 'admin@cmp.local')!.realmRoles).toContain('admin');
  });
});
