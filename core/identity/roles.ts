// The realm roles CMP knows. Anything else in a token (Keycloak adds
// offline_access, uma_authorization, default-roles-cmp…) is ignored.
export const ROLES = ['buyer', 'support', 'admin'] as const;

export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/**
 * Reads the roles at a dotted claim path ("realm_access.roles" for Keycloak,
 * "roles" for a flat claim), keeping only roles CMP knows, without duplicates.
 */
export function rolesFromClaims(claims: Record<string, unknown>, claimPath: string): Role[] {
  let value: unknown = claims;
  for (const segment of claimPath.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
    value = (value as Record<string, unknown>)[segment];
  }
  if (!Array.isArray(value)) return [];
  return ROLES.filter((role) => value.includes(role));
}
