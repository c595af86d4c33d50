// Checks a Langflow flow export before it is published as an artifact, so a
// publisher learns what is wrong at upload time rather than at the first run.
import type { FlowExport } from '../runtime/agent-runtime';

export interface FlowValidation {
  ok: boolean;
  problems: string[];
  flow?: FlowExport;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Accepts parsed JSON, a JSON string or bytes; lists every problem found, in plain words. */
export function validateFlow(input: unknown): FlowValidation {
  let json = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      json = JSON.parse(input.toString());
    } catch (err) {
      return { ok: false, problems: [`The flow is not valid JSON: ${(err as Error).message}`] };
    }
  }
  const problems: string[] = [];
  if (!isObject(json)) return { ok: false, problems: ['The flow must be a JSON object (a Langflow flow export).'] };
  const data = json.data;
  if (!isObject(data)) return { ok: false, problems: ['The flow has no "data" object; export the flow from Langflow with "Export".'] };
  if (!Array.isArray(data.nodes)) problems.push('data.nodes is missing or not an array.');
  if (!Array.isArray(data.edges)) problems.push('data.edges is missing or not an array.');
  if (problems.length) return { ok: false, problems };

  const nodes = data.nodes as unknown[];
  const edges = data.edges as unknown[];
  if (nodes.length === 0) problems.push('The flow has no nodes.');
  const types = new Map<string, string>();
  nodes.forEach((n, i) => {
    if (!isObject(n) || typeof n.id !== 'string' || !n.id) {
      problems.push(`Node #${i + 1} has no id.`);
      return;
    }
    if (types.has(n.id)) problems.push(`Node id "${n.id}" is used twice.`);
    const nd = n.data;
    if (!isObject(nd) || typeof nd.type !== 'string') {
      problems.push(`Node "${n.id}" has no data.type (its component type).`);
      return;
    }
    // Note nodes carry no component and take no part in a run.
    if (n.type === 'noteNode') return;
    types.set(n.id, nd.type);
    if (!isObject(nd.node) || !isObject(nd.node.template)) problems.push(`Node "${n.id}" (${nd.type}) has no data.node.template.`);
  });

  const chatInputs = [...types].filter(([, t]) => t === 'ChatInput').map(([id]) => id);
  const chatOutputs = [...types].filter(([, t]) => t === 'ChatOutput').map(([id]) => id);
  if (chatInputs.length === 0) problems.push('The flow has no Chat Input node: runs pass the user input to a ChatInput.');
  if (chatOutputs.length === 0) problems.push('The flow has no Chat Output node: the answer is read from a ChatOutput.');

  const next = new Map<string, string[]>();
  edges.forEach((e, i) => {
    if (!isObject(e) || typeof e.source !== 'string' || typeof e.target !== 'string') {
      problems.push(`Edge #${i + 1} has no source or target.`);
      return;
    }
    if (!types.has(e.source)) problems.push(`Edge #${i + 1} starts at unknown node "${e.source}".`);
    if (!types.has(e.target)) problems.push(`Edge #${i + 1} ends at unknown node "${e.target}".`);
    next.set(e.source, [...(next.get(e.source) ?? []), e.target]);
  });

  if (chatInputs.length && chatOutputs.length && !reaches(chatInputs, new Set(chatOutputs), next)) {
    problems.push('No path of edges leads from the Chat Input to the Chat Output.');
  }
  return problems.length ? { ok: false, problems } : { ok: true, problems: [], flow: json as unknown as FlowExport };
}

function reaches(starts: string[], goals: Set<string>, next: Map<string, string[]>): boolean {
  const seen = new Set<string>();
  const queue = [...starts];
  while (queue.length) {
    const id = queue.shift()!;
    if (goals.has(id)) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    queue.push(...(next.get(id) ?? []));
  }
  return false;
}
