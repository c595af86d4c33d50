// Routes are declared once: the same zod schemas validate requests at the edge
// and generate the OpenAPI 3.1 document served at /openapi.json, so the two
// cannot drift.
import { OpenAPIRegistry, OpenApiGeneratorV31, extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { z, type ZodType } from 'zod';
import { forbidden, unauthorized } from '../core/errors';
import { atLeast, type WorkspaceRole } from '../core/tenancy/roles';
import type { TenancyStore } from '../core/tenancy/store';

extendZodWithOpenApi(z);

export { z };

export type Auth = 'public' | 'user' | 'apiKey' | 'runToken' | 'service' | 'saleor';

export interface RouteSpec<B extends ZodType | undefined, Q extends ZodType | undefined, P extends ZodType | undefined> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  summary: string;
  tags: string[];
  auth: Auth;
  /**
   * The workspace role a signed-in caller needs in the workspace the route acts on (the `orgId` path parameter, else
   * X-Org-Id, else their first workspace), or `null` for routes outside any workspace (public, platform roles, the
   * caller's own account). Exported as `x-workspace-role`. An API key acts for its workspace; its scopes decide.
   */
  workspaceRole: WorkspaceRole | null;
  /** `resource`: the route is about one resource (a wallet, an order) and the handler checks the role in its organization (requireRoleIn). */
  workspaceFrom?: 'resource';
  body?: B;
  query?: Q;
  params?: P;
  /** Extra middleware (auth, roles, idempotency, rate limits), run before validation. */
  use?: RequestHandler[];
  idempotent?: boolean;
  /** `eventStream`: the answer may also be Server-Sent Events (the client asked to stream). */
  responses: Record<number, { description: string; schema?: ZodType; eventStream?: boolean }>;
}

type Infer<T> = T extends ZodType ? z.infer<T> : undefined;

export interface Validated<B, Q, P> {
  body: B;
  query: Q;
  params: P;
}

export const problemSchema = z
  .object({
    type: z.string().url(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    request_id: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .passthrough()
  .openapi('Problem');

const securityFor: Record<Auth, Record<string, string[]>[] | undefined> = {
  public: undefined,
  user: [{ bearerAuth: [] }],
  apiKey: [{ apiKey: [] }],
  runToken: [{ runToken: [] }],
  service: [{ bearerAuth: [] }],
  saleor: [{ saleorSignature: [] }],
};

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The workspace the request acts in and the caller's workspace role there (null for an API key), set by the route's guard. */
      workspace?: { orgId: string; role: WorkspaceRole | null; needs: WorkspaceRole };
      /** A resource route's workspace role, checked by the handler in the resource's organization. */
      resourceRoleNeeded?: WorkspaceRole;
    }
  }
}

/** Checks the caller's workspace role in one organization: not a member is 404 (other tenants' ids leak nothing), too low a role 403. */
export async function checkWorkspaceRole(tenancy: TenancyStore, userId: string, orgId: string, needs: WorkspaceRole): Promise<WorkspaceRole> {
  return requireRole(await tenancy.requireMembership(userId, orgId), needs);
}

/** A member's role against the role a route needs: too low is 403. */
export function requireRole(role: WorkspaceRole, needs: WorkspaceRole): WorkspaceRole {
  if (!atLeast(role, needs)) throw forbidden(`This needs the ${needs} workspace role or higher; you are ${role === 'admin' ? 'an' : 'a'} ${role} of this workspace`);
  return role;
}

export class ApiDefinition {
  readonly registry = new OpenAPIRegistry();

  constructor(private readonly tenancy?: TenancyStore) {
    this.registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'OIDC access token' });
    this.registry.registerComponent('securitySchemes', 'apiKey', { type: 'http', scheme: 'bearer', description: 'API key (cmp_live_…) as a bearer token' });
    this.registry.registerComponent('securitySchemes', 'runToken', { type: 'http', scheme: 'bearer', description: 'Run-scoped connector token' });
    this.registry.registerComponent('securitySchemes', 'saleorSignature', { type: 'apiKey', in: 'header', name: 'Saleor-Signature' });
  }

  /** Registers the route in the document and mounts it, validated, on the router. */
  route<B extends ZodType | undefined = undefined, Q extends ZodType | undefined = undefined, P extends ZodType | undefined = undefined>(
    router: Router,
    spec: RouteSpec<B, Q, P>,
    handler: (req: Request, res: Response, input: Validated<Infer<B>, Infer<Q>, Infer<P>>) => Promise<void> | void,
  ): void {
    const oaPath = spec.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const responses: Record<string, any> = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      const content = r.schema ? { 'application/json': { schema: r.schema }, ...(r.eventStream ? { 'text/event-stream': { schema: { type: 'string' } } } : {}) } : undefined;
      responses[status] = content ? { description: r.description, content } : { description: r.description };
    }
    const standardErrors: Record<number, string> = { 400: 'Invalid request', 404: 'Not found', 500: 'Internal error' };
    if (spec.auth !== 'public') standardErrors[401] = 'Unauthorized';
    const roles = (spec.use ?? []).flatMap((h) => (h as { requiredRoles?: string[] }).requiredRoles ?? []);
    if (roles.length) standardErrors[403] = `Forbidden: needs the ${[...new Set(roles)].join(' or ')} role`;
    else if (spec.workspaceRole && spec.workspaceRole !== 'member') standardErrors[403] = `Forbidden: needs the ${spec.workspaceRole} workspace role`;
    if (spec.idempotent) Object.assign(standardErrors, { 409: 'A request with this Idempotency-Key is in progress', 422: 'Idempotency-Key reused with another request' });
    for (const [status, description] of Object.entries(standardErrors)) {
      responses[status] ??= { description, content: { 'application/problem+json': { schema: problemSchema } } };
    }
    this.registry.registerPath({
      method: spec.method,
      path: oaPath,
      summary: spec.summary,
      tags: spec.tags,
      security: securityFor[spec.auth],
      request: {
        ...(spec.body ? { body: { content: { 'application/json': { schema: spec.body } }, required: true } } : {}),
        ...(spec.query ? { query: spec.query as any } : {}),
        ...(spec.params ? { params: spec.params as any } : {}),
        ...(spec.idempotent ? { headers: z.object({ 'Idempotency-Key': z.string().max(255).optional() }) } : {}),
      },
      responses,
      'x-workspace-role': spec.workspaceRole ?? 'none',
    });
    // Handlers always answer (or throw to the error handler); nothing runs after them.
    const guard = spec.workspaceRole ? [this.workspaceGuard(spec.workspaceRole, spec.workspaceFrom)] : [];
    router[spec.method](spec.path, ...(spec.use ?? []), ...guard, async (req: Request, res: Response) => {
      const input = {
        body: spec.body ? spec.body.parse(req.body ?? {}) : undefined,
        query: spec.query ? spec.query.parse(req.query) : undefined,
        params: spec.params ? spec.params.parse(req.params) : undefined,
      } as Validated<Infer<B>, Infer<Q>, Infer<P>>;
      await handler(req, res, input);
    });
  }

  /** Resolves the workspace the request acts in and enforces the route's workspace role. */
  private workspaceGuard(needs: WorkspaceRole, from?: 'resource'): RequestHandler {
    const tenancy = this.tenancy;
    if (!tenancy) throw new Error('ApiDefinition needs the tenancy store to guard workspace routes');
    if (from === 'resource') {
      return (req: Request, _res: Response, next: NextFunction) => {
        req.resourceRoleNeeded = needs;
        next();
      };
    }
    return async (req: Request, _res: Response, next: NextFunction) => {
      if (req.apiKey) {
        req.workspace = { orgId: req.apiKey.orgId, role: null, needs };
        return next();
      }
      if (!req.user) throw unauthorized();
      const param = req.params.orgId;
      const requested = (typeof param === 'string' ? param : undefined) ?? req.header('x-org-id');
      if (requested) {
        req.workspace = { orgId: requested, role: await checkWorkspaceRole(tenancy, req.user.id, requested, needs), needs };
        return next();
      }
      // The first workspace: its membership row already carries the role (one read, not two).
      const [first] = await tenancy.membershipsOf(req.user.id);
      // No workspace yet: the handler's own answer (orgOf) says how to create one.
      if (!first) return next();
      req.workspace = { orgId: first.orgId, role: requireRole(first.role, needs), needs };
      next();
    };
  }

  document(serverUrl: string): object {
    const generator = new OpenApiGeneratorV31(this.registry.definitions);
    return generator.generateDocument({
      openapi: '3.1.0',
      info: {
        title: 'CMP API',
        version: '1.0.0',
        description: 'The AI-agent store with credit-based pricing. Errors are RFC 9457 problem+json with stable types under https://cmp.dev/problems/.',
      },
      servers: [{ url: serverUrl }],
    });
  }
}
