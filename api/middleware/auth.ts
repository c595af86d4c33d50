// Browser calls carry the OIDC access token as a bearer token. requireUser
// verifies it, makes sure the user row exists, and puts the caller on
// req.user; requireRole guards support and admin routes behind it.
import type { RequestHandler } from 'express';
import { forbidden, unauthorized } from '../../core/errors';
import { invalidToken, missingToken, type Role, type TokenVerifier, type UserStore } from '../../core/identity';

export interface AuthenticatedUser {
  /** users.id */
  id: string;
  /** The OIDC subject (Keycloak user id). */
  subject: string;
  email: string | null;
  roles: Role[];
}

declare global {
  // Express's Request is extended through this global namespace.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      user?: AuthenticatedUser;
    }
  }
}

export interface AuthDeps {
  verifier: TokenVerifier;
  users: UserStore;
}

// RFC 6750 token68 syntax: what may follow "Bearer ".
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

export function requireUser(deps: AuthDeps): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization;
    if (!header) throw missingToken();
    const match = BEARER.exec(header.trim());
    if (!match) throw invalidToken('The Authorization header must be "Bearer <access token>"');
    const token = await deps.verifier.verify(match[1]!);
    const user = await deps.users.upsertFromToken({ subject: token.subject, email: token.email, name: token.name });
    req.user = { id: user.id, subject: user.subject, email: user.email, roles: token.roles };
    next();
  };
}

/** Lets the request through when the user has any of the roles; 403 otherwise. */
export function requireRole(...anyOf: [Role, ...Role[]]): RequestHandler & { requiredRoles: Role[] } {
  const guard: RequestHandler = (req, _res, next) => {
    if (!req.user) throw unauthorized();
    if (!anyOf.some((role) => req.user!.roles.includes(role))) {
      throw forbidden(`This needs the ${anyOf.join(' or ')} role`);
    }
    next();
  };
  // The OpenAPI document reads it: a route behind this guard can answer 403.
  return Object.assign(guard, { requiredRoles: anyOf });
}
