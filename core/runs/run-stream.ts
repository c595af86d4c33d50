// Streaming a run's output from the worker that runs it to the API replica
// that holds the client's connection, through PostgreSQL LISTEN/NOTIFY: one
// channel per run, chunks published by the worker (run-stream-publisher) and
// received by the API (run-stream-hub). Notifications are best effort: a chunk
// sent while nobody listens is gone, so the final answer always comes from the
// workflow's result and the API only forwards chunks it can prove contiguous.

/** NOTIFY payloads must stay under 8000 bytes; leave room for the JSON envelope. */
export const MAX_NOTIFY_BYTES = 7900;

/** PostgreSQL identifiers are at most 63 bytes: `run_` + the run id's 32 hex digits. */
export const runStreamChannel = (runId: string) => `run_${runId.replace(/-/g, '').toLowerCase()}`;

/**
 * One notification. `s` names the execution that produced it (a retried or
 * crashed-and-replayed step streams again under a new id); `o` is the text's
 * offset, in UTF-16 code units, within that execution's output.
 */
export interface RunChunk {
  s: string;
  o: number;
  t: string;
}

/** Splits a piece of output into payloads that each fit one NOTIFY. */
export function encodeRunChunks(streamId: string, offset: number, text: string, maxBytes = MAX_NOTIFY_BYTES): string[] {
  const payload = JSON.stringify({ s: streamId, o: offset, t: text } satisfies RunChunk);
  if (Buffer.byteLength(payload) <= maxBytes || text.length <= 1) return [payload];
  let cut = Math.floor(text.length / 2);
  // Never split a surrogate pair: each half must be valid text on its own.
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut += 1;
  return [...encodeRunChunks(streamId, offset, text.slice(0, cut), maxBytes), ...encodeRunChunks(streamId, offset + cut, text.slice(cut), maxBytes)];
}

export function decodeRunChunk(payload: string): RunChunk | null {
  try {
    const c = JSON.parse(payload) as RunChunk;
    return typeof c.s === 'string' && Number.isSafeInteger(c.o) && typeof c.t === 'string' ? c : null;
  } catch {
    return null;
  }
}

/**
 * What the API forwards to its client: live chunks while they are provably
 * contiguous (one execution, no gap), then, from the final output, whatever
 * the client has not seen yet. If the live text turns out not to be a prefix
 * of the final output (a retried step answered differently), nothing more is
 * appended and `diverged` says so; the run's final event carries the output.
 */
export class RunStreamAssembler {
  private sent = '';
  private streamId: string | null = null;
  private live = true;

  /** The new text to send for a live chunk, or '' (duplicate, or the stream is no longer trusted). */
  accept(chunk: RunChunk): string {
    if (!this.live) return '';
    if (this.streamId === null) this.streamId = chunk.s;
    if (chunk.s !== this.streamId || chunk.o > this.sent.length) {
      this.live = false;
      return '';
    }
    const fresh = chunk.t.slice(this.sent.length - chunk.o);
    this.sent += fresh;
    return fresh;
  }

  /** Stops trusting live chunks (the listener's connection dropped: some may be lost). */
  interrupt(): void {
    this.live = false;
  }

  /** What remains to send once the final output is known. */
  finish(output: string): { rest: string; diverged: boolean } {
    this.live = false;
    if (!output.startsWith(this.sent)) return { rest: '', diverged: true };
    const rest = output.slice(this.sent.length);
    this.sent = output;
    return { rest, diverged: false };
  }
}
