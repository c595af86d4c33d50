// See https://svelte.dev/docs/kit/types#app.d.ts
import type { SessionUser } from '$lib/server/session';

declare global {
  namespace App {
    interface Error {
      message: string;
    }
    interface Locals {
      /** The signed-in user (from the encrypted session cookie), or null. */
      user: SessionUser | null;
      /** The session's OIDC access token, for server-side API calls. */
      accessToken: string | null;
      /** The person's workspaces (with their workspace roles) and the one they act in (sent as X-Org-Id). */
      workspaces: import('$lib/server/workspace').WorkspaceChoice[];
      workspace: import('$lib/server/workspace').WorkspaceChoice | null;
    }
    interface PageData {
      user?: { email: string; name: string; roles: string[] } | null;
    }
  }
}

export {};
