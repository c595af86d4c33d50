// Every port of the local layouts: the dev layout and the ten test slots run at
// once (developers and test runs side by side), so no port may be used twice,
// within a layout or across layouts. Worker i serves on workerHealth + i and
// workerSdkMetrics + i, so those families count once per worker.
import { describe, expect, it } from 'vitest';
import { devLayout, testLayout, type StackLayout } from '../../deploy/local/stack';
import { workerEntries } from '../../deploy/local/platform';

const WORKER_FAMILIES = new Set(['workerHealth', 'workerSdkMetrics']);

function portsOf(layout: StackLayout, label: string): [string, number][] {
  return Object.entries(layout.ports).flatMap(([name, port]): [string, number][] =>
    WORKER_FAMILIES.has(name) ? workerEntries.map((_, i): [string, number] => [`${label} ${name}+${i}`, port + i]) : [[`${label} ${name}`, port]],
  );
}

const layouts: [string, StackLayout][] = [['dev', devLayout()], ...Array.from({ length: 10 }, (_, slot): [string, StackLayout] => [`test slot ${slot}`, testLayout(slot)])];

describe('local layout ports', () => {
  it('uses no port twice within a layout or across the dev layout and the ten test slots', () => {
    const owners = new Map<number, string[]>();
    for (const [label, layout] of layouts) {
      for (const [name, port] of portsOf(layout, label)) owners.set(port, [...(owners.get(port) ?? []), name]);
    }
    const clashes = [...owners.entries()].filter(([, names]) => names.length > 1).map(([port, names]) => `${port}: ${names.join(', ')}`);
    expect(clashes).toEqual([]);
  });

  it('keeps every port a valid unprivileged TCP port', () => {
    for (const [label, layout] of layouts) {
      for (const [name, port] of portsOf(layout, label)) expect(port > 1024 && port < 65536, `${name} ${port}`).toBe(true);
    }
  });
});
