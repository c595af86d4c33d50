import type { LayoutServerLoad } from './$types';

export const load: LayoutServerLoad = ({ locals }) => ({
  user: locals.user ? { email: locals.user.email, name: locals.user.name, roles: locals.user.roles } : null,
  workspaces: locals.workspaces,
  workspace: locals.workspace,
});
