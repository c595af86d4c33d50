// Connector bindings of an organization's instances (signed-in users, org
// scoped, audited) and the gateway's invoke route (run-scoped tokens). A
// binding's secret is written to Vault and never returned: answers say only
// which kind of secret is set and when it was last rotated.
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { Router, type RequestHandler } from 'express';
import type { AuditLog } from '../../core/audit';
import type { Config } from '../../core/config';
import { connectorSecretPath, secretToKv } from '../../core/connectors/secrets';
import { verifyRunToken } from '../../core/connectors/run-token';
import type { ConnectorStore } from '../../core/connectors/store';
import { HTTP_METHODS, type ConnectorBinding, type RunTokenClaims } from '../../core/connectors/types';
import { unauthorized, validation } from '../../core/errors';
import type { InstanceStore } from '../../core/instances/store';
import type { SecretStore } from '../../core/secrets';
import type { TenancyStore } from '../../core/tenancy/store';
import type { ApiDefinition } from '../openapi';
import { z } from '../openapi';
import { orgOf } from '../org-context';
import { uuid } from '../schemas';
import { executeConnectorCall, outcomeError } from './gateway';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      runToken?: RunTokenClaims;
    }
  }
}

export interface ConnectorRouteDeps {
  api: ApiDefinition;
  temporal: Client;
  config: Config;
  connectors: ConnectorStore;
  secrets: SecretStore;
  instances: InstanceStore;
  tenancy: TenancyStore;
  audit: AuditLog;
  taskQueue: string;
  requireUser: RequestHandler;
  idempotency: RequestHandler;
}

// Headers that carry transport semantics may not hold a secret.
const RESERVED_HEADERS = new Set(['host', 'content-length', 'content-type', 'transfer-encoding', 'connection', 'cookie', 'accept', 'user-agent']);
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'an HTTP header name')
  .refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), 'this header cannot carry a secret');

const secretInput = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('api_key'), header: headerName, value: z.string().min(1).max(4096) }),
  z.object({ kind: z.literal('bearer'), token: z.string().min(1).max(4096) }),
  z.object({ kind: z.literal('basic'), username: z.string().min(1).max(256).refine((u) => !u.includes(':'), 'may not contain ":"'), password: z.string().min(1).max(1024) }),
]).openapi('ConnectorSecretInput');

const baseUrl = z.string().url().max(2000).refine((u) => {
  const url = new URL(u);
  return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password && !url.search && !url.hash;
}, 'an http(s) URL without credentials, query or fragment');

const operation = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  method: z.enum(HTTP_METHODS),
  path: z.string().min(1).max(500).regex(/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/{}%]*$/, 'a path starting with "/"; {name} placeholders are filled from params'),
  idempotent: z.boolean().default(false),
});
const toolName = z.string().regex(/^[A-Za-z0-9_.\-/]{1,128}$/);

const bindingSchema = z.object({
  id: uuid,
  instance_id: uuid,
  name: z.string(),
  type: z.enum(['http', 'mcp']),
  base_url: z.string(),
  operations: z.array(operation),
  tools: z.union([z.array(z.string()), z.literal('all')]),
  secret: z.object({ kind: z.enum(['api_key', 'bearer', 'basic']), header_name: z.string().nullable(), set: z.literal(true), version: z.number().int(), last_rotated_at: z.string() }),
  price_per_call_mc: z.number().int(),
  invoke_url: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
}).openapi('ConnectorBinding');

export function bindingView(b: ConnectorBinding, publicUrl: string) {
  return {
    id: b.id, instance_id: b.instanceId, name: b.name, type: b.type, base_url: b.baseUrl, operations: b.operations,
    tools: b.mcpTools ?? ('all' as const),
    secret: { kind: b.secret.kind, header_name: b.secret.header, set: true as const, version: b.secret.version, last_rotated_at: b.secret.rotatedAt },
    price_per_call_mc: b.pricePerCallMc, invoke_url: `${publicUrl.replace(/\/+$/, '')}/v1/connectors/${b.id}/invoke`, created_at: b.createdAt, updated_at: b.updatedAt,
  };
}

const scalar = z.union([z.string().max(2000), z.number(), z.boolean()]);
const invokeBody = z.object({
  operation: z.string().min(1).max(128).describe('HTTP: an operation name of the binding; MCP: a tool name, or "tools/list"'),
  params: z.record(z.string(), scalar).optional().describe('HTTP: values for the path template'),
  query: z.record(z.string(), scalar).optional(),
  body: z.unknown().optional().describe('HTTP: JSON body'),
  arguments: z.record(z.string(), z.unknown()).optional().describe("MCP: the tool's arguments"),
});

/** The gateway's auth: a run-scoped token from the run path (never an API key or a user token). */
export function requireRunToken(signingSecret: string): RequestHandler {
  return async (req, _res, next) => {
    const m = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)$/i.exec(req.header('authorization') ?? '');
    if (!m) throw unauthorized('Send the run token as "Authorization: Bearer <token>"');
    req.runToken = await verifyRunToken(m[1]!, signingSecret);
    next();
  };
}

export function createConnectorRouter(deps: ConnectorRouteDeps): Router {
  const { api, connectors, secrets, config } = deps;
  const router = Router();
  const tags = ['Connectors'];
  const publicUrl = config.CONNECTOR_GATEWAY_URL ?? config.API_PUBLIC_URL;
  const view = (b: ConnectorBinding) => bindingView(b, publicUrl);
  const actor = (req: { user?: { id: string } }) => `user:${req.user!.id}`;

  api.route(router, {
    method: 'post', path: '/v1/instances/:id/connectors', summary: 'Bind an outside tool (HTTP API or MCP server) to an instance; its secret goes to Vault', tags, auth: 'user', workspaceRole: 'admin',
    use: [deps.requireUser, deps.idempotency], idempotent: true,
    params: z.object({ id: z.string().max(64) }),
    body: z.object({
      name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, "_" and "-"'),
      type: z.enum(['http', 'mcp']),
      base_url: baseUrl,
      operations: z.array(operation).max(100).optional(),
      tools: z.union([z.array(toolName).max(200), z.literal('all')]).optional(),
      secret: secretInput,
    }),
    responses: { 201: { description: 'Bound', schema: bindingSchema } },
  }, async (req, res, { params, body }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const instance = await deps.instances.get(orgId, params.id);
    const operations = body.type === 'http' ? (body.operations ?? []) : [];
    if (body.type === 'http' && operations.length === 0) throw validation('An HTTP connector needs at least one operation', [{ path: 'operations', message: 'required' }]);
    if (new Set(operations.map((o) => o.name)).size !== operations.length) throw validation('Operation names must be unique', [{ path: 'operations', message: 'duplicate name' }]);
    const id = randomUUID();
    const path = connectorSecretPath(orgId, instance.id, id);
    const written = await secrets.write(path, secretToKv(body.secret), { cas: 0 });
    let binding: ConnectorBinding;
    try {
      binding = await connectors.create({
        id, orgId, instanceId: instance.id, name: body.name, type: body.type, baseUrl: body.base_url, operations,
        mcpTools: body.type === 'mcp' && Array.isArray(body.tools) ? body.tools : null,
        secretKind: body.secret.kind, secretHeader: body.secret.kind === 'api_key' ? body.secret.header.toLowerCase() : null,
        secretPath: path, secretVersion: written.version, pricePerCallMc: config.CONNECTOR_PRICE_PER_CALL_MC,
      });
    } catch (err) {
      // No row, no secret: the compensation of the Vault write.
      await secrets.delete(path).catch(() => undefined);
      throw err;
    }
    await deps.audit.record({
      orgId, actor: actor(req), action: 'connector.create', targetType: 'connector_binding', targetId: id,
      data: { instance_id: instance.id, name: binding.name, type: binding.type, base_url: binding.baseUrl, secret_kind: binding.secret.kind },
    });
    res.status(201).json(view(binding));
  });

  api.route(router, {
    method: 'get', path: '/v1/instances/:id/connectors', summary: "An instance's connector bindings (never their secrets)", tags, auth: 'user', workspaceRole: 'admin', use: [deps.requireUser],
    params: z.object({ id: z.string().max(64) }),
    responses: { 200: { description: 'Bindings', schema: z.object({ items: z.array(bindingSchema) }) } },
  }, async (req, res, { params }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const instance = await deps.instances.get(orgId, params.id);
    res.json({ items: (await connectors.listForInstance(orgId, instance.id)).map(view) });
  });

  api.route(router, {
    method: 'get', path: '/v1/connectors/:binding', summary: 'One connector binding', tags, auth: 'user', workspaceRole: 'admin', use: [deps.requireUser],
    params: z.object({ binding: z.string().max(64) }),
    responses: { 200: { description: 'The binding', schema: bindingSchema } },
  }, async (req, res, { params }) => {
    res.json(view(await connectors.get(await orgOf(req, deps.tenancy), params.binding)));
  });

  api.route(router, {
    method: 'patch', path: '/v1/connectors/:binding', summary: "Change a binding's name, base URL, operations or allowed tools", tags, auth: 'user', workspaceRole: 'admin',
    use: [deps.requireUser, deps.idempotency], idempotent: true,
    params: z.object({ binding: z.string().max(64) }),
    body: z.object({
      name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/).optional(),
      base_url: baseUrl.optional(),
      operations: z.array(operation).min(1).max(100).optional(),
      tools: z.union([z.array(toolName).max(200), z.literal('all')]).optional(),
    }),
    responses: { 200: { description: 'Changed', schema: bindingSchema } },
  }, async (req, res, { params, body }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const current = await connectors.get(orgId, params.binding);
    if (body.operations && current.type !== 'http') throw validation('Only HTTP connectors have operations', [{ path: 'operations', message: 'not allowed' }]);
    if (body.tools && current.type !== 'mcp') throw validation('Only MCP connectors have tools', [{ path: 'tools', message: 'not allowed' }]);
    if (body.operations && new Set(body.operations.map((o) => o.name)).size !== body.operations.length) throw validation('Operation names must be unique');
    const updated = await connectors.update(orgId, params.binding, {
      name: body.name, baseUrl: body.base_url, operations: body.operations, mcpTools: body.tools === undefined ? undefined : body.tools === 'all' ? null : body.tools,
    });
    await deps.audit.record({ orgId, actor: actor(req), action: 'connector.update', targetType: 'connector_binding', targetId: updated.id, data: { changed: Object.keys(body) } });
    res.json(view(updated));
  });

  api.route(router, {
    method: 'delete', path: '/v1/connectors/:binding', summary: 'Remove a binding and its secret', tags, auth: 'user', workspaceRole: 'admin',
    use: [deps.requireUser, deps.idempotency], idempotent: true,
    params: z.object({ binding: z.string().max(64) }),
    responses: { 200: { description: 'Removed', schema: bindingSchema } },
  }, async (req, res, { params }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const removed = await connectors.markDeleted(orgId, params.binding);
    await secrets.delete(removed.secret.path);
    await deps.audit.record({ orgId, actor: actor(req), action: 'connector.delete', targetType: 'connector_binding', targetId: removed.id, data: { name: removed.name } });
    res.json(view(removed));
  });

  api.route(router, {
    method: 'post', path: '/v1/connectors/:binding/rotate', summary: 'Replace the secret of a binding (a new Vault version)', tags, auth: 'user', workspaceRole: 'admin',
    use: [deps.requireUser, deps.idempotency], idempotent: true,
    params: z.object({ binding: z.string().max(64) }),
    body: z.object({ secret: secretInput }),
    responses: { 200: { description: 'Rotated', schema: bindingSchema } },
  }, async (req, res, { params, body }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const current = await connectors.get(orgId, params.binding);
    if (body.secret.kind !== current.secret.kind) throw validation(`This connector uses a ${current.secret.kind} secret`, [{ path: 'secret.kind', message: 'must not change' }]);
    // Check-and-set on the version we know: two rotations at once cannot both win silently.
    const written = await secrets.write(current.secret.path, secretToKv(body.secret), { cas: current.secret.version });
    const rotated = await connectors.secretRotated(orgId, current.id, written.version);
    await deps.audit.record({ orgId, actor: actor(req), action: 'connector.rotate_secret', targetType: 'connector_binding', targetId: current.id, data: { version: written.version } });
    res.json(view(rotated));
  });

  api.route(router, {
    method: 'get', path: '/v1/connectors/:binding/calls', summary: 'Recent calls of a binding (audit: run, operation, status, sizes, charge)', tags, auth: 'user', workspaceRole: 'admin', use: [deps.requireUser],
    params: z.object({ binding: z.string().max(64) }),
    query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }),
    responses: { 200: { description: 'Calls, newest first', schema: z.object({ items: z.array(z.record(z.string(), z.unknown())) }) } },
  }, async (req, res, { params, query }) => {
    const orgId = await orgOf(req, deps.tenancy);
    const binding = await connectors.get(orgId, params.binding);
    const calls = await connectors.calls(orgId, binding.id, query.limit);
    res.json({
      items: calls.map((c) => ({
        call_id: c.callId, run_id: c.runId, operation: c.operation, status: c.status, upstream_status: c.upstreamStatus, error_type: c.errorType,
        duration_ms: c.durationMs, request_bytes: c.requestBytes, response_bytes: c.responseBytes, charged_mc: c.chargedMc, created_at: c.createdAt,
      })),
    });
  });

  api.route(router, {
    method: 'post', path: '/v1/connectors/:binding/invoke', summary: "Call a bound tool from a running flow (run token); answers with the tool's result", tags, auth: 'runToken', workspaceRole: null,
    use: [requireRunToken(config.SIGNING_SECRET)],
    params: z.object({ binding: z.string().max(64) }),
    body: invokeBody,
    responses: {
      200: {
        description: "The tool's answer",
        schema: z.object({
          call_id: z.string(), status: z.literal('succeeded'), tool_status: z.number().int(), content_type: z.string().nullable(), result: z.unknown(),
          credits_charged_mc: z.number().int(), duration_ms: z.number().int(),
        }),
      },
      402: { description: 'Insufficient credits for the call' },
      403: { description: 'Operation not allowed, or egress refused (egress-refused)' },
      502: { description: 'The tool failed; nothing was charged' },
      503: { description: 'The secret store stayed unavailable past the deadline; nothing was charged' },
      504: { description: 'The call did not complete within its deadline; nothing was charged' },
    },
  }, async (req, res, { params, body }) => {
    const token = req.runToken!;
    const outcome = await executeConnectorCall(
      { temporal: deps.temporal, config, taskQueue: deps.taskQueue },
      { bindingId: params.binding, orgId: token.orgId, instanceId: token.instanceId, runId: token.runId, call: body, idempotencyKey: req.header('idempotency-key') },
    );
    if (outcome.status !== 'succeeded') throw outcomeError(outcome);
    res.json({
      call_id: outcome.callId, status: 'succeeded', tool_status: outcome.upstreamStatus, content_type: outcome.contentType, result: outcome.body,
      credits_charged_mc: outcome.chargedMc, duration_ms: Math.round(outcome.durationMs),
    });
  });

  return router;
}
