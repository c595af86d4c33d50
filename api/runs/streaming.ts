// A streamed run: the same runWithCreditHold workflow as every run, started
// after this API process listens on the run's channel, so the worker's chunks
// reach whichever replica holds the client's connection. Nothing is written
// to the client before the hold is placed: the first chunk (the runtime runs
// only after the hold) or the workflow's result opens the stream, and a run
// refused or failed before that answers with an ordinary HTTP error. The
// final outcome comes from the workflow's result, never from the chunks, so
// a lost chunk costs latency, not correctness; settlement is the workflow's
// and happens once whether or not the client is still there.
import type { Client } from '@temporalio/client';
import type { Response } from 'express';
import type { RunStreamHub } from '../../core/runs/run-stream-hub';
import { RunStreamAssembler } from '../../core/runs/run-stream';
import { runWorkflowId, type RunOutcome, type RunRequest } from '../../core/runs/contract';

export interface StreamingRunDeps {
  temporal: Client;
  hub: RunStreamHub;
  taskQueue: string;
}

export interface StreamHandlers {
  /** Once, before the first byte: the hold is placed. */
  open(): void;
  text(text: string): void;
}

export interface StreamedRun {
  /** null when the client went away first (the run goes on and settles without it). */
  outcome: RunOutcome | null;
  opened: boolean;
  /** The live text was not a prefix of the final output (a retried step answered differently). */
  diverged: boolean;
}

export async function streamRun(deps: StreamingRunDeps, run: RunRequest, handlers: StreamHandlers, signal: AbortSignal): Promise<StreamedRun> {
  const assembler = new RunStreamAssembler();
  let opened = false;
  const open = () => {
    if (opened) return;
    opened = true;
    handlers.open();
  };
  const unsubscribe = await deps.hub.subscribe(run.runId, {
    chunk(chunk) {
      if (signal.aborted) return;
      open();
      const fresh = assembler.accept(chunk);
      if (fresh) handlers.text(fresh);
    },
    lost: () => assembler.interrupt(),
  });
  try {
    const handle = await deps.temporal.workflow.start('runWithCreditHold', {
      workflowId: runWorkflowId(run.runId), taskQueue: deps.taskQueue, args: [{ ...run, stream: true }], workflowIdConflictPolicy: 'USE_EXISTING',
    });
    // The workflow's result (not an update): it survives a worker crash mid-run and follows the run to its end.
    const result = handle.result() as Promise<RunOutcome>;
    result.catch(() => undefined);
    const gone = new Promise<null>((resolve) => {
      if (signal.aborted) resolve(null);
      signal.addEventListener('abort', () => resolve(null), { once: true });
    });
    const outcome = await Promise.race([result, gone]);
    if (!outcome) return { outcome: null, opened, diverged: false };
    if (outcome.status !== 'succeeded') return { outcome, opened, diverged: false };
    open();
    const { rest, diverged } = assembler.finish(outcome.output);
    if (rest) handlers.text(rest);
    return { outcome, opened, diverged };
  } finally {
    await unsubscribe();
  }
}

/** An AbortSignal that fires when the client closes the connection before the answer is complete. */
export function clientGone(res: Response): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** Writes the Server-Sent Events headers; proxies must not buffer the stream. */
export function openEventStream(res: Response): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
}

export function writeEvent(res: Response, data: unknown, event?: string): void {
  if (res.writableEnded || res.destroyed) return;
  res.write(`${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}
