// Workspace roles: what a person may do inside one workspace (a membership's
// role). They are not the platform's realm roles (buyer/support/admin in the
// Keycloak token), which say what someone may do across all workspaces.
// docs/teams.md has the table of which role each route needs.

/** Lowest first: each role may do everything the ones before it may. */
export const WORKSPACE_ROLES = ['member', 'admin', 'owner'] as const;
export type WorkspaceRole = (typeof WORKSPACE_ROLES)[number];

export const atLeast = (role: WorkspaceRole, needs: WorkspaceRole): boolean => WORKSPACE_ROLES.indexOf(role) >= WORKSPACE_ROLES.indexOf(needs);
