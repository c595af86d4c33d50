// Invitations into a workspace. The link's token is an HMAC of the
// invitation's id under the platform's signing secret: nobody without the
// secret can make one, and the API can show a pending link again in the dev
// stack (no mail server). Only the token's SHA-256 is stored. Accepting is one
// conditional UPDATE, so a link works once, however many tabs race for it.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { Db } from '../db';
import { AppError, notFound } from '../errors';
import { MembersStore } from './members';
import type { WorkspaceRole } from './roles';

export type InvitationState = 'pending' | 'accepted' | 'revoked' | 'expired';

export interface Invitation {
  id: string;
  orgId: string;
  orgName: string;
  email: string;
  role: WorkspaceRole;
  invitedBy: { userId: string; email: string | null };
  createdAt: string;
  expiresAt: string;
  acceptedAt: string | null;
  revokedAt: string | null;
  state: InvitationState;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? null : String(v));
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

const stateOf = (r: Record<string, any>): InvitationState =>
  r.accepted_at ? 'accepted' : r.revoked_at ? 'revoked' : new Date(r.expires_at).getTime() <= Date.now() ? 'expired' : 'pending';

const toInvitation = (r: Record<string, any>): Invitation => ({
  id: r.id, orgId: r.org_id, orgName: r.org_name, email: r.email, role: r.role,
  invitedBy: { userId: r.invited_by, email: r.inviter_email ?? null },
  createdAt: iso(r.created_at)!, expiresAt: iso(r.expires_at)!, acceptedAt: iso(r.accepted_at), revokedAt: iso(r.revoked_at), state: stateOf(r),
});

/** The problem for a link that no longer works, by its state. */
export function invitationGone(state: Exclude<InvitationState, 'pending'>): AppError {
  switch (state) {
    case 'expired': return new AppError('invitation-expired', 'Invitation expired', 'This invitation has expired: ask for a new one');
    case 'revoked': return new AppError('invitation-revoked', 'Invitation revoked', 'This invitation was withdrawn');
    case 'accepted': return new AppError('invitation-used', 'Invitation already used', 'This invitation has already been accepted');
  }
}

export class InvitationStore {
  private readonly members: MembersStore;

  constructor(private readonly db: Db, private readonly signingSecret: string) {
    this.members = new MembersStore(db);
  }

  /** The link token of an invitation: only someone with the signing secret can compute it. */
  tokenOf(id: string): string {
    return createHmac('sha256', this.signingSecret).update(`invitation:${id}`).digest('base64url');
  }

  async create(input: { orgId: string; email: string; role: WorkspaceRole; invitedBy: string; ttlHours: number }): Promise<{ invitation: Invitation; token: string }> {
    const id = randomUUID();
    const token = this.tokenOf(id);
    await this.db('invitations').insert({
      id, org_id: input.orgId, email: input.email.trim(), role: input.role, token_hash: sha256(token), invited_by: input.invitedBy,
      expires_at: this.db.raw(`now() + make_interval(hours => ?)`, [input.ttlHours]),
    });
    return { invitation: (await this.find({ 'i.id': id }))!, token };
  }

  /** The workspace's invitations, newest first (accepted and revoked ones too, for the record). */
  async list(orgId: string): Promise<Invitation[]> {
    return (await this.query().where('i.org_id', orgId).orderBy('i.created_at', 'desc').limit(200)).map(toInvitation);
  }

  async revoke(orgId: string, id: string): Promise<Invitation> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw notFound(`Invitation ${id}`);
    const updated = await this.db('invitations')
      .where({ id, org_id: orgId })
      .whereNull('accepted_at')
      .whereNull('revoked_at')
      .update({ revoked_at: this.db.fn.now() })
      .returning('id');
    const invitation = await this.find({ 'i.id': id, 'i.org_id': orgId });
    if (!invitation) throw notFound(`Invitation ${id}`);
    if (updated.length === 0 && invitation.state === 'accepted') throw invitationGone('accepted');
    return invitation;
  }

  /** What the link shows before anyone signs in. */
  async byToken(token: string): Promise<Invitation> {
    const invitation = TOKEN_RE.test(token) ? await this.find({ 'i.token_hash': sha256(token) }) : null;
    if (!invitation) throw notFound('Invitation');
    return invitation;
  }

  /**
   * Accepts the invitation as the signed-in user, whose email must be the invited one (case-insensitive). The same
   * user accepting again gets the same answer; anyone else gets the problem of the link's state.
   */
  async accept(token: string, user: { id: string; email: string | null }): Promise<{ invitation: Invitation; role: WorkspaceRole; alreadyAccepted: boolean }> {
    const invitation = await this.byToken(token);
    if (!user.email || user.email.toLowerCase() !== invitation.email.toLowerCase()) {
      throw new AppError('invitation-wrong-email', 'This invitation is for someone else', `This invitation is for ${invitation.email}; you are signed in as ${user.email ?? 'a user without an email'}`, {
        invited_email: invitation.email,
      });
    }
    return this.db.transaction(async (trx) => {
      const [row] = await trx('invitations')
        .where('id', invitation.id)
        .whereNull('accepted_at')
        .whereNull('revoked_at')
        .where('expires_at', '>', trx.fn.now())
        .update({ accepted_at: trx.fn.now(), accepted_by: user.id })
        .returning('*');
      if (!row) {
        const current = await trx('invitations').where('id', invitation.id).first();
        if (current.accepted_by === user.id) {
          const role = await trx('memberships').where({ org_id: invitation.orgId, user_id: user.id }).first();
          if (role) return { invitation: { ...invitation, state: 'accepted' as const }, role: role.role, alreadyAccepted: true };
        }
        const state = stateOf(current);
        // The database's clock decided it had expired, a moment before ours would.
        throw invitationGone(state === 'pending' ? 'expired' : state);
      }
      const role = await this.members.add(trx, invitation.orgId, user.id, invitation.role);
      return { invitation: { ...invitation, state: 'accepted' as const, acceptedAt: iso(row.accepted_at) }, role, alreadyAccepted: false };
    });
  }

  private query() {
    return this.db('invitations as i')
      .join('organizations as o', 'o.id', 'i.org_id')
      .leftJoin('users as u', 'u.id', 'i.invited_by')
      .select('i.*', 'o.name as org_name', 'u.email as inviter_email');
  }

  private async find(where: Record<string, unknown>): Promise<Invitation | null> {
    const row = await this.query().where(where).first();
    return row ? toInvitation(row) : null;
  }
}
