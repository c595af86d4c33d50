// Workspaces for teams against real PostgreSQL and Keycloak: workspace roles
// on every route (read from /openapi.json's x-workspace-role), members and
// their keys, the last owner, and invitations in each of their states.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordingMailSender } from '../../core/mail';
import { OidcBrowser, loginAs } from '../support/oidc';
import { startPlatform, type TestPlatform } from '../support/platform';

let p: TestPlatform;
const mail = new RecordingMailSender();
let owner: string;
let admin: string;
let member: string;
let orgId: string;
let walletId: string;
const ids: Record<'owner' | 'admin' | 'member', string> = { owner: '', admin: '', member: '' };
const ZERO = '00000000-0000-4000-8000-000000000000';
const RANK = ['member', 'admin', 'owner'];

/** A new person registering on Keycloak's own page (nobody has invited them anywhere yet). */
export async function newPerson(first: string) {
  const email = `${first.toLowerCase()}-${randomBytes(4).toString('hex')}@example.com`;
  const tokens = await new OidcBrowser().register({ email, password: `pw-${randomBytes(8).toString('hex')}`, firstName: first, lastName: 'Tester' });
  return { email, token: tokens.accessToken };
}

async function userId(token: string): Promise<string> {
  return (await p.call('GET', '/v1/me', { token })).body.id;
}

/** Every row of the tables a workspace route may change, so a refused call can be shown to change nothing. */
async function snapshot(): Promise<string> {
  const tables = ['memberships', 'api_keys', 'instances', 'connector_bindings', 'orders', 'transfers', 'accounts', 'audit_log', 'organizations', 'projects', 'invitations'];
  const parts: string[] = [];
  for (const t of tables) {
    const { rows } = await p.clients.db.raw(`select coalesce(md5(string_agg(x::text, '|' order by x::text)), '') as h, count(*) as n from ${t} x`);
    parts.push(`${t}:${rows[0].n}:${rows[0].h}`);
  }
  return parts.join(' ');
}

beforeAll(async () => {
  p = await startPlatform({ startWorkers: false, mail });
  owner = (await loginAs('buyer@cmp.local')).accessToken;
  admin = (await loginAs('buyer2@cmp.local')).accessToken;
  // A platform role (support) gives nothing inside someone's workspace: here it is a plain member.
  member = (await loginAs('support@cmp.local')).accessToken;
  const ws = (await p.call('POST', '/v1/orgs/auto', { token: owner })).body;
  orgId = ws.org.id;
  walletId = ws.wallet_id;
  ids.owner = await userId(owner);
  ids.admin = await userId(admin);
  ids.member = await userId(member);
  // Invitations are tested on their own; here the members are added as an accepted invitation would.
  await p.clients.db('memberships').insert([{ org_id: orgId, user_id: ids.admin, role: 'admin' }, { org_id: orgId, user_id: ids.member, role: 'member' }]);
});
afterAll(async () => p?.close());

const asRole = { owner: () => owner, admin: () => admin, member: () => member };

describe('workspace roles on every route', () => {
  it('declares a workspace role (or none) for every operation in /openapi.json', async () => {
    const doc = (await p.call('GET', '/openapi.json')).body;
    const missing: string[] = [];
    for (const [path, ops] of Object.entries<Record<string, Record<string, unknown>>>(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (!['none', ...RANK].includes(op['x-workspace-role'] as string)) missing.push(`${method} ${path}`);
      }
    }
    expect(missing).toEqual([]);
    expect(doc.paths['/v1/wallets/{id}/transfers'].get['x-workspace-role']).toBe('owner');
    expect(doc.paths['/v1/instances/{id}/connectors'].post['x-workspace-role']).toBe('admin');
  });

  it('gives each workspace role exactly what the spec says, and a refused call changes nothing', async () => {
    const doc = (await p.call('GET', '/openapi.json')).body;
    // A resource route checks the role in the resource's workspace, so it gets a real resource of this workspace.
    const order = `order-${randomBytes(4).toString('hex')}`;
    await p.clients.db('orders').insert({ saleor_order_id: order, kind: 'free', org_id: orgId, status: 'received', workflow_id: `order-${order}` });
    const realId: Record<string, string> = { '/v1/wallets/{id}': walletId, '/v1/wallets/{id}/transfers': walletId, '/v1/orders/{id}': order };
    const keys: Record<string, string> = {};
    for (const role of RANK) {
      keys[role] = (await p.call('POST', '/v1/api-keys', { token: asRole[role as 'owner'](), body: { name: `probe-${role}`, scopes: ['runs', 'usage:read'] } })).body.secret;
    }

    const probes: { role: string; needs: string; method: string; path: string; concrete: string; withKey: boolean }[] = [];
    for (const [path, ops] of Object.entries<Record<string, Record<string, any>>>(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const needs = op['x-workspace-role'];
        if (needs === 'none') continue;
        const withKey = (op.security ?? []).some((s: Record<string, unknown>) => 'apiKey' in s);
        const concrete = (realId[path] ? path.replace('{id}', realId[path]!) : path).replace('{orgId}', orgId).replace(/\{[^}]+\}/g, ZERO);
        for (const role of RANK) probes.push({ role, needs, method, path, concrete, withKey });
      }
    }
    const call = (x: (typeof probes)[number]) => p.call(x.method.toUpperCase(), x.concrete, {
      ...(x.withKey ? { headers: { authorization: `Bearer ${keys[x.role]}` } } : { token: asRole[x.role as 'owner'](), headers: { 'X-Org-Id': orgId } }),
      body: x.method === 'get' || x.method === 'delete' ? undefined : {},
    });

    const refused = probes.filter((x) => !x.withKey && RANK.indexOf(x.role) < RANK.indexOf(x.needs));
    expect(refused.length).toBeGreaterThan(15);
    const before = await snapshot();
    for (const x of refused) {
      const r = await call(x);
      expect(r.status, `${x.role} ${x.method} ${x.path}`).toBe(403);
      expect(r.body.detail, `${x.role} ${x.method} ${x.path}`).toMatch(/workspace role/);
    }
    expect(await snapshot()).toBe(before);

    // Allowed calls pass the guard: whatever they answer to an empty body or a made-up id, it is not a refusal.
    // Leaving is allowed to every role and tested on its own: here it would take the prober out of the workspace.
    for (const x of probes.filter((y) => !refused.includes(y) && !y.path.endsWith('/leave'))) {
      const r = await call(x);
      expect([401, 403], `${x.role} ${x.method} ${x.path}: ${r.status} ${r.body?.detail ?? ''}`).not.toContain(r.status);
    }
  });
});

describe('members and their keys', () => {
  it('lets a member see and revoke only their own keys; admins see every key with its creator', async () => {
    const mine = (await p.call('POST', '/v1/api-keys', { token: member, body: { name: 'member-own' } })).body;
    const adminKey = (await p.call('POST', '/v1/api-keys', { token: admin, body: { name: 'admin-own' } })).body;
    const seenByMember = (await p.call('GET', '/v1/api-keys', { token: member })).body.items;
    expect(seenByMember.map((k: { id: string }) => k.id)).toContain(mine.id);
    expect(seenByMember.every((k: { created_by: { user_id: string } }) => k.created_by.user_id === ids.member)).toBe(true);
    expect((await p.call('DELETE', `/v1/api-keys/${adminKey.id}`, { token: member })).status).toBe(404);

    const seenByAdmin = (await p.call('GET', '/v1/api-keys', { token: admin })).body.items;
    expect(seenByAdmin.find((k: { id: string }) => k.id === mine.id).created_by.email).toBe('support@cmp.local');
    expect(seenByAdmin.find((k: { id: string }) => k.id === adminKey.id).revoked_at).toBeNull();
    expect((await p.call('DELETE', `/v1/api-keys/${mine.id}`, { token: admin })).status).toBe(200);
  });

  it('keeps owners out of reach of admins and never demotes the last owner', async () => {
    expect((await p.call('PATCH', `/v1/orgs/${orgId}/members/${ids.owner}`, { token: admin, body: { role: 'member' } })).status).toBe(403);
    expect((await p.call('PATCH', `/v1/orgs/${orgId}/members/${ids.member}`, { token: admin, body: { role: 'owner' } })).status).toBe(403);
    expect((await p.call('DELETE', `/v1/orgs/${orgId}/members/${ids.owner}`, { token: admin })).status).toBe(403);
    const self = await p.call('PATCH', `/v1/orgs/${orgId}/members/${ids.owner}`, { token: owner, body: { role: 'admin' } });
    expect(self.status).toBe(409);
    expect(self.body.type).toBe('https://cmp.dev/problems/last-owner');
    expect((await p.call('POST', `/v1/orgs/${orgId}/leave`, { token: owner })).body.type).toBe('https://cmp.dev/problems/last-owner');
    const members = (await p.call('GET', `/v1/orgs/${orgId}/members`, { token: member })).body.items;
    expect(members.map((m: { role: string }) => m.role).sort()).toEqual(['admin', 'member', 'owner']);
  });

  it('keeps one owner when two owners step down at the same time', async () => {
    const second = { token: (await loginAs('admin@cmp.local')).accessToken };
    const secondId = await userId(second.token);
    const ws = (await p.call('POST', '/v1/orgs/auto', { token: second.token })).body.org.id;
    const third = { token: member };
    const thirdId = ids.member;
    await p.clients.db('memberships').insert({ org_id: ws, user_id: thirdId, role: 'member' });
    expect((await p.call('PATCH', `/v1/orgs/${ws}/members/${thirdId}`, { token: second.token, body: { role: 'owner' } })).status).toBe(200);

    const both = await Promise.all([
      p.call('PATCH', `/v1/orgs/${ws}/members/${secondId}`, { token: second.token, body: { role: 'member' } }),
      p.call('PATCH', `/v1/orgs/${ws}/members/${thirdId}`, { token: third.token, body: { role: 'member' } }),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    const owners = await p.clients.db('memberships').where({ org_id: ws, role: 'owner' });
    expect(owners).toHaveLength(1);
  });

  it("removes a member with the keys they created here, at once, and nothing else; the audit log says who did it", async () => {
    const person = await newPerson('Remy');
    const personId = await userId(person.token);
    await p.clients.db('memberships').insert({ org_id: orgId, user_id: personId, role: 'member' });
    const theirs = (await p.call('POST', '/v1/api-keys', { token: person.token, body: { name: 'remy', scopes: ['usage:read'] } })).body;
    const adminKey = (await p.call('POST', '/v1/api-keys', { token: admin, body: { name: 'stays', scopes: ['usage:read'] } })).body;
    expect((await p.call('GET', '/v1/balance', { headers: { authorization: `Bearer ${theirs.secret}` } })).status).toBe(200);
    const listed = (await p.call('GET', `/v1/orgs/${orgId}/members`, { token: admin })).body.items.find((m: { user_id: string }) => m.user_id === personId);
    expect(listed.live_keys).toBe(1);

    const removed = await p.call('DELETE', `/v1/orgs/${orgId}/members/${personId}`, { token: admin });
    expect(removed.status).toBe(200);
    expect(removed.body.revoked_key_ids).toEqual([theirs.id]);
    expect((await p.call('GET', '/v1/balance', { headers: { authorization: `Bearer ${theirs.secret}` } })).status).toBe(401);
    expect((await p.call('GET', '/v1/balance', { headers: { authorization: `Bearer ${adminKey.secret}` } })).status).toBe(200);
    expect((await p.call('GET', '/v1/wallet', { token: person.token, headers: { 'X-Org-Id': orgId } })).status).toBe(404);

    const audit = await p.clients.db('audit_log').where({ org_id: orgId, action: 'member.removed', target_id: personId });
    expect(audit).toHaveLength(1);
    expect(audit[0].actor).toBe(`user:${ids.admin}`);
    expect(audit[0].data).toMatchObject({ role: 'member', revoked_keys: 1 });
  });
});

describe('invitations', () => {
  const problem = (type: string) => `https://cmp.dev/problems/${type}`;
  const invite = async (email: string, role = 'member', token = owner) => p.call('POST', `/v1/orgs/${orgId}/invitations`, { token, body: { email, role } });
  const tokenFromMail = (to: string) => {
    const sent = mail.sent.filter((m) => m.to.toLowerCase() === to.toLowerCase()).at(-1);
    return /\/invite\/([A-Za-z0-9_-]{43})\b/.exec(sent?.text ?? '')?.[1];
  };

  it('mails a single-use link; its page shows the invitation; the invited person joins with the role, once', async () => {
    const email = `ines-${randomBytes(4).toString('hex')}@example.com`;
    const sent = await invite(email.toUpperCase());
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ role: 'member', state: 'pending', invited_by: { user_id: ids.owner, email: 'buyer@cmp.local' } });
    const token = tokenFromMail(email)!;
    expect(token).toBeDefined();
    expect(mail.sent.at(-1)!.subject).toContain('buyer@cmp.local');
    // No mail server is configured here, so the workspace page may show the same link.
    expect(sent.body.link).toBe(`${p.config.WEB_ORIGIN}/invite/${token}`);

    const summary = await p.call('GET', `/v1/invitations/${token}`);
    expect(summary.body).toMatchObject({ workspace_name: "buyer's workspace", role: 'member', invited_by: 'buyer@cmp.local', state: 'pending' });
    expect((await p.call('GET', `/v1/invitations/${token.slice(0, -2)}xx`)).status).toBe(404);

    const wrong = await p.call('POST', `/v1/invitations/${token}/accept`, { token: admin });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toMatchObject({ type: problem('invitation-wrong-email'), invited_email: email.toUpperCase() });

    const ines = await new OidcBrowser().register({ email, password: `pw-${randomBytes(8).toString('hex')}`, firstName: 'Ines', lastName: 'Invited' });
    const twice = await Promise.all([1, 2].map(() => p.call('POST', `/v1/invitations/${token}/accept`, { token: ines.accessToken })));
    expect(twice.map((r) => r.status)).toEqual([200, 200]);
    expect(twice[0]!.body.org).toEqual({ id: orgId, name: "buyer's workspace", role: 'member' });
    const me = (await p.call('GET', '/v1/me', { token: ines.accessToken })).body;
    expect(me.orgs).toEqual([{ id: orgId, name: "buyer's workspace", role: 'member' }]);
    expect((await p.call('GET', `/v1/invitations/${token}`)).body.state).toBe('accepted');
    expect(await p.clients.db('audit_log').where({ action: 'invitation.accepted', actor: `user:${me.id}` })).toHaveLength(1);

    // Removed, the person cannot come back through the used link.
    expect((await p.call('DELETE', `/v1/orgs/${orgId}/members/${me.id}`, { token: owner })).status).toBe(200);
    const again = await p.call('POST', `/v1/invitations/${token}/accept`, { token: ines.accessToken });
    expect(again.status).toBe(410);
    expect(again.body.type).toBe(problem('invitation-used'));
  });

  it('refuses a revoked or expired link with its own problem type', async () => {
    const person = { email: 'admin@cmp.local', token: (await loginAs('admin@cmp.local')).accessToken };
    const revokedInvite = (await invite(person.email)).body;
    const revokedToken = tokenFromMail(person.email)!;
    const revoked = await p.call('DELETE', `/v1/orgs/${orgId}/invitations/${revokedInvite.id}`, { token: admin });
    expect(revoked.body).toMatchObject({ state: 'revoked', link: null });
    expect((await p.call('GET', `/v1/invitations/${revokedToken}`)).body.state).toBe('revoked');
    const r1 = await p.call('POST', `/v1/invitations/${revokedToken}/accept`, { token: person.token });
    expect([r1.status, r1.body.type]).toEqual([410, problem('invitation-revoked')]);

    const expiring = (await invite(person.email)).body;
    const expiringToken = tokenFromMail(person.email)!;
    await p.clients.db('invitations').where('id', expiring.id).update({ expires_at: p.clients.db.raw("now() - interval '1 minute'") });
    expect((await p.call('GET', `/v1/invitations/${expiringToken}`)).body.state).toBe('expired');
    const r2 = await p.call('POST', `/v1/invitations/${expiringToken}/accept`, { token: person.token });
    expect([r2.status, r2.body.type]).toEqual([410, problem('invitation-expired')]);
    expect(await p.clients.db('memberships').where({ org_id: orgId, user_id: await userId(person.token) })).toHaveLength(0);

    const audit = await p.clients.db('audit_log').where({ org_id: orgId, target_id: revokedInvite.id }).orderBy('id');
    expect(audit.map((a: { action: string; actor: string }) => [a.action, a.actor])).toEqual([['invitation.sent', `user:${ids.owner}`], ['invitation.revoked', `user:${ids.admin}`]]);
  });

  it('lets owners and admins invite, only owners invite owners, and members not at all', async () => {
    expect((await invite('x@example.com', 'member', member)).status).toBe(403);
    expect((await invite('x@example.com', 'owner', admin)).status).toBe(403);
    expect((await invite('x@example.com', 'admin', admin)).status).toBe(201);
    expect((await invite('x@example.com', 'owner', owner)).status).toBe(201);
    expect((await invite('not an email', 'member', owner)).status).toBe(400);
    const listed = (await p.call('GET', `/v1/orgs/${orgId}/invitations`, { token: admin })).body.items;
    expect(listed.filter((i: { email: string }) => i.email === 'x@example.com').map((i: { role: string }) => i.role)).toEqual(['owner', 'admin']);
  });
});

describe('leaving', () => {
  it('lets an admin leave; the keys they created here are revoked, the workspace keeps the rest', async () => {
    const before = (await p.call('GET', '/v1/api-keys', { token: owner })).body.items.filter((k: { revoked_at: string | null }) => !k.revoked_at);
    const theirs = before.filter((k: { created_by: { user_id: string } }) => k.created_by.user_id === ids.admin).map((k: { id: string }) => k.id);
    expect(theirs.length).toBeGreaterThan(0);
    const left = await p.call('POST', `/v1/orgs/${orgId}/leave`, { token: admin });
    expect(left.status).toBe(200);
    expect([...left.body.revoked_key_ids].sort()).toEqual([...theirs].sort());
    const after = (await p.call('GET', '/v1/api-keys', { token: owner })).body.items.filter((k: { revoked_at: string | null }) => !k.revoked_at);
    expect(after).toHaveLength(before.length - theirs.length);
    expect((await p.call('GET', `/v1/orgs/${orgId}/members`, { token: admin })).status).toBe(404);
    const audit = await p.clients.db('audit_log').where({ org_id: orgId, action: 'member.removed', target_id: ids.admin });
    expect(audit[0].data).toMatchObject({ role: 'admin', left: true });
  });
});
