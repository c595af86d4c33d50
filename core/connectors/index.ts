// The connector gateway's core: bindings, run tokens, the egress guard and the tool executors.
import type { Config } from '../config';
import { EgressGuard, type LookupAll } from './egress';

export * from './types';
export * from './errors';
export { EgressGuard, forbiddenReason, parseEgressAllow, type EgressOptions, type LookupAll, type ResolvedAddress } from './egress';
export { ConnectorStore, type ConnectorCallRecord } from './store';
export { connectorSecretPath, secretToKv } from './secrets';
export { issueRunToken, verifyRunToken, runTokenIssuer, RUN_TOKEN_AUDIENCE, type RunTokenIssuer } from './run-token';
export { MCP_LIST_TOOLS, callTool, operationUrl, type ToolAnswer, type ToolCall } from './tools';

/** The guard with the operator's allow-list and limits from the configuration. */
export function connectorEgressGuard(
  config: Pick<Config, 'CONNECTOR_EGRESS_ALLOW' | 'CONNECTOR_TOOL_TIMEOUT_MS' | 'CONNECTOR_MAX_RESPONSE_BYTES'>,
  lookup?: LookupAll,
): EgressGuard {
  return new EgressGuard({
    allow: config.CONNECTOR_EGRESS_ALLOW, lookup, totalTimeoutMs: config.CONNECTOR_TOOL_TIMEOUT_MS, maxResponseBytes: config.CONNECTOR_MAX_RESPONSE_BYTES,
    connectTimeoutMs: Math.min(3_000, config.CONNECTOR_TOOL_TIMEOUT_MS),
  });
}
