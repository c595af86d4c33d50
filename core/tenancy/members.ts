// The people of a workspace: their workspace roles, role changes and
// removals. Every change takes the organization's row lock first, so two
// concurrent changes are serialized and "a workspace keeps at least one owner"
// is checked against the committed state, never a stale count.
import type { Knex } from 'knex';
import type { Db } from '../db';
import { AppError, forbidden, notFound } from '../errors';
import { atLeast, type WorkspaceRole } from './roles';

export interface Member {
  userId: string;
  email: string | null;
  name: string | null;
  role: WorkspaceRole;
  joinedAt: string;
  /** Live API keys this person created in the workspace: removing them revokes these. */
  liveKeys: number;
}

export interface Actor {
  userId: string;
}

export interface RoleChange {
  userId: string;
  from: WorkspaceRole;
  to: WorkspaceRole;
}

export interface Removal {
  userId: string;
  role: WorkspaceRole;
  /** Ids of the API keys revoked with the membership. */
  revokedKeyIds: string[];
}

const lastOwner = () => new AppError('last-owner', 'A workspace needs an owner', 'This is the workspace\'s last owner: make someone else owner first');

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : String(v));

export class MembersStore {
  constructor(private readonly db: Db) {}

  async list(orgId: string): Promise<Member[]> {
    const rows = await this.db('memberships as m')
      .join('users as u', 'u.id', 'm.user_id')
      .where('m.org_id', orgId)
      .select('m.user_id', 'u.email', 'u.name', 'm.role', 'm.created_at')
      .select(this.db.raw(
        '(select count(*)::int from api_keys k where k.org_id = m.org_id and k.created_by = m.user_id and k.revoked_at is null) as live_keys',
      ))
      .orderBy([{ column: 'm.created_at' }, { column: 'm.user_id' }]);
    return rows.map((r: Record<string, any>) => ({
      userId: r.user_id, email: r.email, name: r.name, role: r.role, joinedAt: iso(r.created_at), liveKeys: r.live_keys,
    }));
  }

  /**
   * Gives a member another workspace role. Admins manage members and admins; only owners touch owners or make
   * someone owner. The last owner cannot be demoted.
   */
  async changeRole(orgId: string, by: Actor, targetUserId: string, to: WorkspaceRole): Promise<RoleChange> {
    return this.db.transaction(async (trx) => {
      const target = await this.lockAndFind(trx, orgId, targetUserId);
      const actor = await this.actorUnderLock(trx, orgId, by);
      if ((target.role === 'owner' || to === 'owner') && actor.role !== 'owner') throw forbidden('Only an owner may make someone owner or change an owner\'s role');
      if (!atLeast(actor.role, 'admin')) throw forbidden('This needs the admin workspace role or higher');
      if (target.role === to) return { userId: targetUserId, from: to, to };
      if (target.role === 'owner') await this.requireAnotherOwner(trx, orgId);
      await trx('memberships').where({ org_id: orgId, user_id: targetUserId }).update({ role: to, updated_at: trx.fn.now() });
      return { userId: targetUserId, from: target.role, to };
    });
  }

  /**
   * Removes a member (or lets someone leave: actor = target) and revokes the API keys they created in this
   * workspace, nothing else, in one transaction: a removed person's key stops working with the removal.
   */
  async remove(orgId: string, by: Actor, targetUserId: string): Promise<Removal> {
    return this.db.transaction(async (trx) => {
      const target = await this.lockAndFind(trx, orgId, targetUserId);
      const actor = await this.actorUnderLock(trx, orgId, by);
      const leaving = actor.userId === targetUserId;
      if (!leaving && !atLeast(actor.role, 'admin')) throw forbidden('This needs the admin workspace role or higher');
      if (!leaving && target.role === 'owner' && actor.role !== 'owner') throw forbidden('Only an owner may remove an owner');
      if (target.role === 'owner') await this.requireAnotherOwner(trx, orgId);
      await trx('memberships').where({ org_id: orgId, user_id: targetUserId }).delete();
      const revoked = await trx('api_keys')
        .where({ org_id: orgId, created_by: targetUserId })
        .whereNull('revoked_at')
        .update({ revoked_at: trx.fn.now() })
        .returning('id');
      return { userId: targetUserId, role: target.role, revokedKeyIds: revoked.map((r: { id: string }) => r.id) };
    });
  }

  /** Adds someone with a role; an existing member keeps the higher of their role and the new one. */
  async add(trx: Knex.Transaction, orgId: string, userId: string, role: WorkspaceRole): Promise<WorkspaceRole> {
    await trx('organizations').where('id', orgId).forUpdate().first();
    const existing = await trx('memberships').where({ org_id: orgId, user_id: userId }).first();
    if (!existing) {
      await trx('memberships').insert({ org_id: orgId, user_id: userId, role });
      return role;
    }
    if (atLeast(existing.role, role)) return existing.role;
    await trx('memberships').where({ org_id: orgId, user_id: userId }).update({ role, updated_at: trx.fn.now() });
    return role;
  }

  private async lockAndFind(trx: Knex.Transaction, orgId: string, userId: string): Promise<{ role: WorkspaceRole }> {
    if (!/^[0-9a-f-]{36}$/i.test(userId)) throw notFound(`Member ${userId}`);
    await trx('organizations').where('id', orgId).forUpdate().first();
    const row = await trx('memberships').where({ org_id: orgId, user_id: userId }).first();
    if (!row) throw notFound(`Member ${userId}`);
    return { role: row.role };
  }

  /** The actor's role as committed now: a concurrent change may have demoted or removed them since the route's check. */
  private async actorUnderLock(trx: Knex.Transaction, orgId: string, by: Actor): Promise<{ userId: string; role: WorkspaceRole }> {
    const row = await trx('memberships').where({ org_id: orgId, user_id: by.userId }).first();
    if (!row) throw notFound(`Organization ${orgId}`);
    return { userId: by.userId, role: row.role };
  }

  private async requireAnotherOwner(trx: Knex.Transaction, orgId: string): Promise<void> {
    const row = await trx('memberships').where({ org_id: orgId, role: 'owner' }).count<{ owners: string }[]>('* as owners').first();
    if (Number(row?.owners ?? 0) < 2) throw lastOwner();
  }
}
