// The workspace a signed-in person acts in, when they belong to several: chosen
// in the header's switcher, kept in a cookie, sent to the API as X-Org-Id.
import type { Cookies } from '@sveltejs/kit';

export const WORKSPACE_COOKIE = 'cmp_workspace';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface WorkspaceChoice {
  id: string;
  name: string;
  /** The person's workspace role there (owner, admin, member): not a platform role. */
  role: 'owner' | 'admin' | 'member';
}

export function chosenWorkspaceId(cookies: Cookies): string | null {
  const value = cookies.get(WORKSPACE_COOKIE);
  return value && UUID.test(value) ? value : null;
}

export function chooseWorkspace(cookies: Cookies, url: URL, orgId: string): void {
  cookies.set(WORKSPACE_COOKIE, orgId, { path: '/', httpOnly: true, sameSite: 'lax', secure: url.protocol === 'https:', maxAge: 60 * 60 * 24 * 365 });
}

/** The chosen workspace if the person still belongs to it, else their first. */
export function currentWorkspace(all: WorkspaceChoice[], chosen: string | null): WorkspaceChoice | null {
  return all.find((w) => w.id === chosen) ?? all[0] ?? null;
}
