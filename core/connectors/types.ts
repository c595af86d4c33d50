// Connector bindings: an organization's outside tools (an HTTP API or an MCP
// server) bound to one of its instances. What the gateway may call is declared
// here; the credentials are in Vault and never part of these types.

export const CONNECTOR_TYPES = ['http', 'mcp'] as const;
export type ConnectorType = (typeof CONNECTOR_TYPES)[number];

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export interface HttpOperation {
  /** What flows call it by, e.g. "create_ticket". */
  name: string;
  method: HttpMethod;
  /** Relative to the binding's base URL; `{name}` placeholders are filled from the call's params. */
  path: string;
  /** Only idempotent operations are retried after a failure. */
  idempotent: boolean;
}

export const SECRET_KINDS = ['api_key', 'bearer', 'basic'] as const;
export type SecretKind = (typeof SECRET_KINDS)[number];

/** The credentials as given by the binding's owner: written to Vault, never stored or returned by CMP. */
export type ConnectorSecretInput =
  | { kind: 'api_key'; header: string; value: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'basic'; username: string; password: string };

export interface ConnectorBinding {
  id: string;
  orgId: string;
  instanceId: string;
  name: string;
  type: ConnectorType;
  baseUrl: string;
  /** HTTP bindings: the allowed operations. */
  operations: HttpOperation[];
  /** MCP bindings: the allowed tool names; null = every tool of the server. */
  mcpTools: string[] | null;
  secret: { kind: SecretKind; header: string | null; path: string; version: number; rotatedAt: string };
  pricePerCallMc: number;
  createdAt: string;
  updatedAt: string;
}

/** Claims of a run-scoped connector token. */
export interface RunTokenClaims {
  orgId: string;
  instanceId: string;
  runId: string;
}
