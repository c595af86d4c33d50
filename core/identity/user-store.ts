// People who signed in through OIDC. A user row is created on first contact
// (the first API call with a valid token) and keyed by the token's subject.
import type { Db } from '../db';

export interface User {
  id: string;
  subject: string;
  email: string | null;
  name: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What a verified token says about its holder. */
export interface TokenIdentity {
  subject: string;
  email: string | null;
  name: string | null;
}

export interface UserStore {
  /**
   * Returns the user for this subject, creating it on first contact and
   * refreshing email/name when the identity provider changed them. Safe under
   * concurrency: twenty parallel first requests make one row.
   */
  upsertFromToken(identity: TokenIdentity): Promise<User>;
  findById(id: string): Promise<User | undefined>;
  findBySubject(subject: string): Promise<User | undefined>;
  /**
   * By email, whatever its case (a Saleor order names its buyer by email). Throws AmbiguousEmailError when two users
   * have it: which one paid cannot be guessed.
   */
  findByEmail(email: string): Promise<User | undefined>;
}

/**
 * Two users share an email (emails are not unique: each comes from its own token). Permanent (`retryable` false):
 * a provisioning activity fails without retrying and the order parks for support.
 */
export class AmbiguousEmailError extends Error {
  readonly retryable = false;
  constructor(email: string) {
    super(`More than one CMP user has the email ${email}; support must pick the buyer`);
    this.name = 'AmbiguousEmailError';
  }
}

interface UserRow {
  id: string;
  oidc_subject: string;
  email: string | null;
  name: string | null;
  created_at: Date;
  updated_at: Date;
}

const toUser = (row: UserRow): User => ({
  id: row.id,
  subject: row.oidc_subject,
  email: row.email,
  name: row.name,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export function createKnexUserStore(db: Db): UserStore {
  const findBySubject = async (subject: string) => {
    const row = await db<UserRow>('users').where({ oidc_subject: subject }).first();
    return row && toUser(row);
  };

  return {
    async upsertFromToken(identity) {
      // Every authenticated request comes through here: the common case (known
      // user, nothing changed) is one indexed read and no write.
      const known = await findBySubject(identity.subject);
      if (known && known.email === identity.email && known.name === identity.name) return known;

      // INSERT … ON CONFLICT makes the first contact race-free; the WHERE
      // skips the write (and returns no row) when another request already
      // stored the same email and name.
      const result = await db.raw<{ rows: UserRow[] }>(
        `insert into users (oidc_subject, email, name) values (?, ?, ?)
         on conflict (oidc_subject) do update
           set email = excluded.email, name = excluded.name, updated_at = now()
           where users.email is distinct from excluded.email or users.name is distinct from excluded.name
         returning *`,
        [identity.subject, identity.email, identity.name],
      );
      const row = result.rows[0];
      if (row) return toUser(row);
      const current = await findBySubject(identity.subject);
      if (!current) throw new Error(`user ${identity.subject} vanished during upsert`);
      return current;
    },

    async findById(id) {
      const row = await db<UserRow>('users').where({ id }).first();
      return row && toUser(row);
    },

    findBySubject,

    async findByEmail(email) {
      // users_email_lower_idx serves this.
      const rows = await db<UserRow>('users').whereRaw('lower(email) = lower(?)', [email]).limit(2);
      if (rows.length > 1) throw new AmbiguousEmailError(email);
      return rows[0] && toUser(rows[0]);
    },
  };
}
