// The dev provider's seeded people. Subjects are fixed UUIDs (Keycloak's user
// ids are UUIDs too) so user rows, tokens and test fixtures stay stable across
// restarts. Development only: every password is "cmp-dev".
import type { Role } from '../../../core/identity';

export interface DevUser {
  subject: string;
  email: string;
  name: string;
  password: string;
  roles: Role[];
}

export const DEV_PASSWORD = 'cmp-dev';

export const devUsers: readonly DevUser[] = [
  { subject: '0b6f5a3e-8c1d-4f2a-9e7b-1a2b3c4d5e01', email: 'buyer@cmp.local', name: 'Bea Buyer', password: DEV_PASSWORD, roles: ['buyer'] },
  // A second, unrelated buyer: tenant-isolation tests sign in as both.
  { subject: '0b6f5a3e-8c1d-4f2a-9e7b-1a2b3c4d5e02', email: 'buyer2@cmp.local', name: 'Bo Buyer', password: DEV_PASSWORD, roles: ['buyer'] },
  { subject: '0b6f5a3e-8c1d-4f2a-9e7b-1a2b3c4d5e03', email: 'support@cmp.local', name: 'Sam Support', password: DEV_PASSWORD, roles: ['buyer', 'support'] },
  { subject: '0b6f5a3e-8c1d-4f2a-9e7b-1a2b3c4d5e04', email: 'admin@cmp.local', name: 'Ada Admin', password: DEV_PASSWORD, roles: ['buyer', 'admin'] },
];

export function findUserBySubject(subject: string): DevUser | undefined {
  return devUsers.find((u) => u.subject === subject);
}

export function findUserByEmail(email: string): DevUser | undefined {
  const wanted = email.trim().toLowerCase();
  return devUsers.find((u) => u.email === wanted);
}
