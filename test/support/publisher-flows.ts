// Flow exports a publisher might upload, built from a launch agent's export:
// one that works, one with a component outside the allow-list, and one whose
// component fails on every input (its code raises), as text, byte for byte
// what a file picker would read.
import { createHash } from 'node:crypto';
import { loadLaunchAgents } from '../../deploy/local/agents';
import type { FlowExport } from '../../core/runtime/agent-runtime';

const triage = () => structuredClone(loadLaunchAgents().find((a) => a.meta.slug === 'ticket-triage')!.flow) as FlowExport;

export const exampleTickets = [
  'URGENT: checkout is down for all customers since 10 minutes, production is broken!',
  'Could you add a dark mode to the dashboard? Not urgent.',
];

export function workingFlow(): string {
  return JSON.stringify(triage(), null, 2);
}

/** A Python REPL node: runs arbitrary code, so it is not on the allow-list. */
export function forbiddenFlow(): string {
  const flow = triage();
  const node = flow.data.nodes.find((n) => n.data.type === 'TicketTriage')!;
  node.data.type = 'PythonREPLComponent';
  return JSON.stringify(flow, null, 2);
}

/** Valid and allowed, but its component raises on every run: its example inputs fail. */
export function failingFlow(): string {
  const flow = triage();
  const node = flow.data.nodes.find((n) => n.data.type === 'TicketTriage')!;
  const code = (node.data.node!.template!.code as { value: string });
  const marker = 'text = (self.ticket or "").strip()';
  if (!code.value.includes(marker)) throw new Error('the ticket-triage component changed: update failingFlow()');
  code.value = code.value.replace(marker, 'raise ValueError("the triage rules file is missing")');
  return JSON.stringify(flow, null, 2);
}

export const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
