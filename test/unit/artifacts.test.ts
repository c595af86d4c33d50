import { describe, expect, it } from 'vitest';
import { ArtifactIntegrityError, ByteLruCache, artifactKeyFor, sha256Hex, validateFlow } from '../../core/artifacts';
import { loadLaunchAgents } from '../../deploy/local/agents';

const node = (id: string, type: string) => ({ id, type: 'genericNode', data: { id, type, node: { template: {} } } });
const edge = (source: string, target: string) => ({ source, target });

describe('validateFlow', () => {
  it('accepts both launch agents, as bytes', () => {
    for (const agent of loadLaunchAgents()) {
      expect(validateFlow(agent.flowBytes)).toMatchObject({ ok: true, problems: [] });
    }
  });

  it('accepts a minimal ChatInput → ChatOutput flow', () => {
    const flow = { data: { nodes: [node('in', 'ChatInput'), node('out', 'ChatOutput')], edges: [edge('in', 'out')] } };
    expect(validateFlow(flow).ok).toBe(true);
  });

  it('names every problem of a broken flow', () => {
    const flow = { data: { nodes: [node('in', 'ChatInput'), node('p', 'Prompt'), { id: 'x', data: {} }], edges: [edge('in', 'p'), edge('p', 'ghost')] } };
    const { ok, problems } = validateFlow(flow);
    expect(ok).toBe(false);
    expect(problems).toEqual([
      'Node "x" has no data.type (its component type).',
      'The flow has no Chat Output node: the answer is read from a ChatOutput.',
      'Edge #2 ends at unknown node "ghost".',
    ]);
  });

  it('reports a flow whose input never reaches its output', () => {
    const flow = { data: { nodes: [node('in', 'ChatInput'), node('out', 'ChatOutput')], edges: [] } };
    expect(validateFlow(flow).problems).toEqual(['No path of edges leads from the Chat Input to the Chat Output.']);
  });

  it('rejects non-JSON and non-exports with a readable reason', () => {
    expect(validateFlow('{nope').problems[0]).toMatch(/^The flow is not valid JSON/);
    expect(validateFlow([]).problems).toEqual(['The flow must be a JSON object (a Langflow flow export).']);
    expect(validateFlow({ data: { nodes: {} } }).problems).toEqual(['data.nodes is missing or not an array.', 'data.edges is missing or not an array.']);
  });
});

describe('content addressing', () => {
  it('derives the key from the sha256', () => {
    const sha = sha256Hex('{"a":1}');
    expect(sha).toBe('015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862');
    expect(artifactKeyFor(sha)).toBe(`flows/${sha}.json`);
  });

  it('marks an integrity failure as permanent', () => {
    const err = new ArtifactIntegrityError('flows/a.json', 'a', 'b');
    expect(err.retryable).toBe(false);
    expect(err.name).toBe('ArtifactIntegrityError');
  });
});

describe('ByteLruCache', () => {
  it('evicts the least recently used entry by count', () => {
    const cache = new ByteLruCache(2, 1000);
    cache.set('a', Buffer.from('1'));
    cache.set('b', Buffer.from('2'));
    cache.get('a');
    cache.set('c', Buffer.from('3'));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.toString()).toBe('1');
    expect(cache.get('c')?.toString()).toBe('3');
  });

  it('evicts by total bytes and refuses entries larger than the budget', () => {
    const cache = new ByteLruCache(10, 10);
    cache.set('a', Buffer.alloc(6));
    cache.set('b', Buffer.alloc(6));
    expect(cache.size).toBe(1);
    expect(cache.totalBytes).toBe(6);
    cache.set('huge', Buffer.alloc(11));
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.get('b')).toBeDefined();
  });
});
