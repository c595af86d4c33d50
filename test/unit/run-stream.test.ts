// The run stream's wire rules: payloads that fit one NOTIFY whatever the text,
// and an assembler that forwards only text it can prove contiguous, so the
// streamed text always ends up equal to the run's final output.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeTimeoutError } from '../../core/runtime/agent-runtime';
import { createHttpClient } from '../../core/runtime/http-json';
import { decodeRunChunk, encodeRunChunks, MAX_NOTIFY_BYTES, RunStreamAssembler, runStreamChannel } from '../../core/runs/run-stream';

describe('encodeRunChunks', () => {
  it('splits long, escaped and multi-byte text into payloads under the NOTIFY limit that reassemble exactly', () => {
    const text = `${'é"\\\n'.repeat(3000)}😀${'x'.repeat(9000)}😀`;
    const payloads = encodeRunChunks('s1', 5, text);
    expect(payloads.length).toBeGreaterThan(2);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(MAX_NOTIFY_BYTES);
    const chunks = payloads.map((p) => decodeRunChunk(p)!);
    expect(chunks.map((c) => c.t).join('')).toBe(text);
    // Offsets are contiguous from the first one.
    let at = 5;
    for (const c of chunks) {
      expect(c.o).toBe(at);
      at += c.t.length;
    }
    expect(chunks.every((c) => !/[\ud800-\udbff]$/.test(c.t))).toBe(true);
  });

  it('names one channel per run that PostgreSQL accepts as an identifier', () => {
    expect(runStreamChannel('0F3C2D1E-1111-4222-8333-944455556666')).toBe('run_0f3c2d1e111142228333944455556666');
  });
});

describe('RunStreamAssembler', () => {
  it('forwards contiguous chunks once, ignores repeats, and sends the rest of the final output', () => {
    const a = new RunStreamAssembler();
    expect(a.accept({ s: 'a', o: 0, t: 'Hello' })).toBe('Hello');
    expect(a.accept({ s: 'a', o: 0, t: 'Hello' })).toBe('');
    expect(a.accept({ s: 'a', o: 3, t: 'lo, ' })).toBe(', ');
    expect(a.finish('Hello, world')).toEqual({ rest: 'world', diverged: false });
  });

  it('after a lost chunk (a gap) forwards nothing live; the final output fills in the rest', () => {
    const a = new RunStreamAssembler();
    a.accept({ s: 'a', o: 0, t: 'Hel' });
    expect(a.accept({ s: 'a', o: 5, t: ', wor' })).toBe('');
    expect(a.accept({ s: 'a', o: 10, t: 'ld' })).toBe('');
    expect(a.finish('Hello, world')).toEqual({ rest: 'lo, world', diverged: false });
  });

  it('a retried step streams under a new id: live text stops, and a different final answer is flagged, not appended', () => {
    const a = new RunStreamAssembler();
    a.accept({ s: 'a', o: 0, t: 'Answer A' });
    expect(a.accept({ s: 'b', o: 0, t: 'Answer B' })).toBe('');
    expect(a.finish('Answer B, complete')).toEqual({ rest: '', diverged: true });
  });

  it('a dropped listener stops live forwarding', () => {
    const a = new RunStreamAssembler();
    a.accept({ s: 'a', o: 0, t: 'one ' });
    a.interrupt();
    expect(a.accept({ s: 'a', o: 4, t: 'two ' })).toBe('');
    expect(a.finish('one two three')).toEqual({ rest: 'two three', diverged: false });
  });
});

// A streamed Langflow run reads its answer through the keep-alive client's onText option.
describe('createHttpClient onText', () => {
  let server: http.Server;
  let base: string;
  const client = createHttpClient();
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/fail') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"detail":"boom"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // "é" split across two writes: the text handed on must not break it.
      const e = Buffer.from('é');
      res.write(Buffer.concat([Buffer.from('one '), e.subarray(0, 1)]));
      setTimeout(() => res.write(Buffer.concat([e.subarray(1), Buffer.from(' two')])), 20);
      if (req.url === '/hang') return;
      setTimeout(() => res.end(' three'), 40);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    client.close();
    server.close();
  });

  it('hands a 2xx body on as text while it arrives and resolves at its end', async () => {
    const pieces: string[] = [];
    const res = await client.request('POST', new URL(`${base}/ok`), { body: {}, timeoutMs: 5000, what: 'test', onText: (t) => void pieces.push(t) });
    expect(res).toMatchObject({ status: 200, text: '' });
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('')).toBe('one é two three');
  });

  it('resolves as soon as onText has what it needs, and collects a failure answer as usual', async () => {
    let seen = '';
    await client.request('POST', new URL(`${base}/hang`), { timeoutMs: 5000, what: 'test', onText: (t) => (seen += t).includes('two') });
    expect(seen).toBe('one é two');
    const failed = await client.request('POST', new URL(`${base}/fail`), { timeoutMs: 5000, what: 'test', onText: () => undefined });
    expect(failed).toMatchObject({ status: 500, body: { detail: 'boom' } });
  });

  it('keeps the whole-request deadline and passes on an error onText throws', async () => {
    await expect(client.request('POST', new URL(`${base}/hang`), { timeoutMs: 300, what: 'test', onText: () => undefined })).rejects.toBeInstanceOf(RuntimeTimeoutError);
    const bad = new Error('bad event');
    await expect(client.request('POST', new URL(`${base}/ok`), { timeoutMs: 5000, what: 'test', onText: () => { throw bad; } })).rejects.toBe(bad);
  });
});
