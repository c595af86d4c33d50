// The worker's side of a run's stream: output pieces go out as NOTIFYs on the
// run's channel. One NOTIFY is in flight at a time; pieces produced meanwhile
// are sent together in the next one, so a fast token stream costs a few round
// trips, not one per token, and chunks arrive in order.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db';
import { encodeRunChunks, runStreamChannel } from './run-stream';

export interface RunStreamPublisher {
  push(text: string): void;
  /** Resolves once everything pushed so far has been published (or given up on). */
  flush(): Promise<void>;
}

export function createRunStreamPublisher(db: Db, runId: string, onError: (err: unknown) => void = () => undefined): RunStreamPublisher {
  const channel = runStreamChannel(runId);
  // A new id per execution: a retried step streams from offset 0 again under its own id.
  const streamId = randomUUID();
  let offset = 0;
  let pending = '';
  let inFlight: Promise<void> | null = null;

  const pump = async (): Promise<void> => {
    while (pending) {
      const text = pending;
      pending = '';
      for (const payload of encodeRunChunks(streamId, offset, text)) {
        // Best effort: a lost chunk only delays the client to the final event; the run itself must not fail for it.
        await db.raw('select pg_notify(?, ?)', [channel, payload]).catch(onError);
      }
      offset += text.length;
    }
  };
  const kick = () => {
    inFlight ??= pump().finally(() => {
      inFlight = null;
      if (pending) kick();
    });
  };

  return {
    push(text) {
      if (!text) return;
      pending += text;
      kick();
    },
    async flush() {
      while (inFlight) await inFlight;
    },
  };
}
