// Which Langflow component types a published flow may use. A component is
// code the runtime executes for every buyer, so the catalog takes only the
// ones we run ourselves: the launch agents' components (deploy/local/agents)
// and Langflow's basic input/output and text components. Anything that runs
// arbitrary code, calls the network or needs a model key (Python REPL, API
// Request, Webhook, custom code, LLM providers) is refused until it is added
// here or to FLOW_ALLOWED_COMPONENTS on purpose.
import type { FlowExport } from '../runtime/agent-runtime';

/** The launch agents' flows use exactly these (see the flow.json files under deploy/local/agents). */
export const LAUNCH_AGENT_COMPONENTS = ['ChatInput', 'ChatOutput', 'FaqAnswerer', 'TicketTriage'] as const;

/** Langflow 1.13's basic components that only move or shape text (lfx/components/input_output, processing, prompt). */
export const LANGFLOW_BASIC_TEXT_COMPONENTS = ['TextInput', 'TextOutput', 'CombineText', 'TextOperations', 'SplitText', 'Prompt Template', 'Prompt'] as const;

export const DEFAULT_ALLOWED_COMPONENTS: readonly string[] = [...LAUNCH_AGENT_COMPONENTS, ...LANGFLOW_BASIC_TEXT_COMPONENTS];

/** The allow-list from the config: FLOW_ALLOWED_COMPONENTS (comma-separated) replaces the default when set. */
export function allowedComponents(configured: string): ReadonlySet<string> {
  const list = configured.split(',').map((s) => s.trim()).filter(Boolean);
  return new Set(list.length ? list : DEFAULT_ALLOWED_COMPONENTS);
}

/** One problem per component type outside the allow-list, naming the nodes that use it. */
export function componentProblems(flow: FlowExport, allowed: ReadonlySet<string>): string[] {
  const byType = new Map<string, string[]>();
  for (const node of flow.data.nodes) {
    if (node.type === 'noteNode') continue;
    if (!allowed.has(node.data.type)) byType.set(node.data.type, [...(byType.get(node.data.type) ?? []), node.id]);
  }
  return [...byType].map(
    ([type, ids]) => `Component "${type}" (node ${ids.map((id) => `"${id}"`).join(', ')}) is not on the allowed list; allowed: ${[...allowed].join(', ')}.`,
  );
}
