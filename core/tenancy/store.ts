// Organizations, projects and memberships. A user's automatic workspace is
// created once: the unique organizations.auto_for_user_id decides the race,
// never a "check then insert".
import type { Db } from '../db';
import { notFound } from '../errors';
import type { WorkspaceRole } from './roles';

export interface Organization {
  id: string;
  name: string;
  createdAt: string;
}

export interface Membership {
  orgId: string;
  orgName: string;
  role: WorkspaceRole;
}

export interface Workspace {
  org: Organization;
  projectId: string;
  created: boolean;
}

const toOrg = (r: Record<string, any>): Organization => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at instanceof Date ? r.created_at.toISOString() : String(r.created_at),
});

export class TenancyStore {
  constructor(private readonly db: Db) {}

  /** The user's workspace: organization, default project and owner membership, created at most once. */
  async ensureWorkspace(userId: string, name: string): Promise<Workspace> {
    return this.db.transaction(async (trx) => {
      const inserted = await trx('organizations')
        .insert({ name, auto_for_user_id: userId })
        .onConflict('auto_for_user_id')
        .ignore()
        .returning('*');
      const created = inserted.length === 1;
      const org = created ? inserted[0] : await trx('organizations').where('auto_for_user_id', userId).first();
      if (created) {
        await trx('memberships').insert({ org_id: org.id, user_id: userId, role: 'owner' });
        await trx('projects').insert({ org_id: org.id, name: 'Default project' });
      }
      const project = await trx('projects').where('org_id', org.id).orderBy('created_at').first();
      return { org: toOrg(org), projectId: project.id, created };
    });
  }

  async membershipsOf(userId: string): Promise<Membership[]> {
    const rows = await this.db('memberships as m')
      .join('organizations as o', 'o.id', 'm.org_id')
      .where('m.user_id', userId)
      .select('m.org_id', 'o.name', 'm.role')
      .orderBy('m.created_at');
    return rows.map((r) => ({ orgId: r.org_id, orgName: r.name, role: r.role }));
  }

  /** The user's role in an org; a non-member gets not-found, so ids of other tenants leak nothing. */
  async requireMembership(userId: string, orgId: string): Promise<WorkspaceRole> {
    if (!/^[0-9a-f-]{36}$/i.test(orgId)) throw notFound(`Organization ${orgId}`);
    const row = await this.db('memberships').where({ user_id: userId, org_id: orgId }).first();
    if (!row) throw notFound(`Organization ${orgId}`);
    return row.role;
  }

  async getOrg(orgId: string): Promise<Organization> {
    const row = await this.db('organizations').where('id', orgId).first();
    if (!row) throw notFound(`Organization ${orgId}`);
    return toOrg(row);
  }

  /** The organization a user acts in by default: the first one they belong to. */
  async defaultOrgOf(userId: string): Promise<string | null> {
    const [m] = await this.membershipsOf(userId);
    return m?.orgId ?? null;
  }
}
