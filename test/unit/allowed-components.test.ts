import { describe, expect, it } from 'vitest';
import { DEFAULT_ALLOWED_COMPONENTS, allowedComponents, componentProblems } from '../../core/artifacts';
import { loadLaunchAgents } from '../../deploy/local/agents';
import type { FlowExport } from '../../core/runtime/agent-runtime';

describe('the component allow-list', () => {
  it('takes every component the launch agents use', () => {
    for (const agent of loadLaunchAgents()) expect(componentProblems(agent.flow as FlowExport, allowedComponents(''))).toEqual([]);
  });

  it('names each forbidden component type once, with the nodes using it', () => {
    const flow = structuredClone(loadLaunchAgents()[0]!.flow) as FlowExport;
    flow.data.nodes.push({ id: 'repl-1', data: { type: 'PythonREPLComponent' } }, { id: 'repl-2', data: { type: 'PythonREPLComponent' } });
    const problems = componentProblems(flow, allowedComponents(''));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^Component "PythonREPLComponent" \(node "repl-1", "repl-2"\) is not on the allowed list; allowed: ChatInput, /);
  });

  it('is replaced by FLOW_ALLOWED_COMPONENTS when set', () => {
    expect([...allowedComponents(' ChatInput, ChatOutput ,')]).toEqual(['ChatInput', 'ChatOutput']);
    expect([...allowedComponents('')]).toEqual([...DEFAULT_ALLOWED_COMPONENTS]);
  });
});
