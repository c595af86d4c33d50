// Server-Sent Events for streamed runs, shared by POST /v1/runs and the
// OpenAI-compatible chat completions: the run itself is the run starter's
// (RunStarter.stream); this writes it to the client. Nothing is written
// before the hold is placed, so a run refused or failed before its first
// chunk answers with an ordinary HTTP error; after that a failure is an event
// in the stream, in the endpoint's own shape.
import type { Response } from 'express';
import type { AppError } from '../../core/errors';
import type { RunOutcome, RunRequest } from '../../core/runs/contract';
import { runOutcomeError } from './outcome';
import type { RunStarter } from './run-starter';

/** What an endpoint writes at each step of a streamed run. */
export interface EventStreamWriters {
  /** The first event, once the hold is placed (the headers are already sent). */
  started(): void;
  text(text: string): void;
  /** The run failed after the stream opened. */
  error(error: AppError): void;
  /** The run succeeded; `diverged`: the live text was not a prefix of the final output. */
  done(outcome: Extract<RunOutcome, { status: 'succeeded' }>, diverged: boolean): void;
}

export async function answerWithEventStream(res: Response, starter: RunStarter, run: RunRequest, startedAt: number, writers: EventStreamWriters): Promise<void> {
  const { outcome, opened, diverged } = await starter.stream(run, {
    open: () => {
      openEventStream(res);
      writers.started();
    },
    text: (text) => writers.text(text),
  }, clientGone(res), startedAt);
  if (!outcome) return;
  if (outcome.status !== 'succeeded') {
    const error = runOutcomeError(outcome, run.runId);
    // Before the first byte the client gets an ordinary HTTP error (402, 504, …).
    if (!opened) throw error;
    writers.error(error);
  } else {
    writers.done(outcome, diverged);
  }
  res.end();
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
