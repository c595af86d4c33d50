// How a flow receives its run token: any node whose template declares the
// inputs `cmp_run_token` (and optionally `cmp_gateway_url`) gets them as
// Langflow tweaks on each run of an instance. Flows without such nodes get nothing.
import type { FlowExport, Tweaks } from '../runtime/agent-runtime';

export const RUN_TOKEN_INPUT = 'cmp_run_token';
export const GATEWAY_URL_INPUT = 'cmp_gateway_url';

/** Ids of the nodes that declare the run-token input. */
export function nodesDeclaringRunToken(flow: FlowExport): string[] {
  return (flow.data?.nodes ?? []).filter((n) => n.data?.node?.template && RUN_TOKEN_INPUT in n.data.node.template).map((n) => n.id);
}

export function runTokenTweaks(nodeIds: string[], token: string, gatewayUrl: string): Tweaks | undefined {
  if (nodeIds.length === 0) return undefined;
  return Object.fromEntries(nodeIds.map((id) => [id, { [RUN_TOKEN_INPUT]: token, [GATEWAY_URL_INPUT]: gatewayUrl }]));
}
