// POST /v1/runs with `"stream": true` (or `Accept: text/event-stream`):
// Server-Sent Events. `run.started` once the hold is placed, `output` events
// with the text as the runtime produces it, then `run.completed` with the
// whole Run (output, credits charged, balance) — or `error` with a problem
// document if the run fails after the stream opened.
import type { Request, RequestHandler, Response } from 'express';
import { problemBody } from '../middleware/problem';
import type { RunRequest } from '../../core/runs/contract';
import { runOutcomeError, runView } from './outcome';
import { clientGone, openEventStream, streamRun, writeEvent, type StreamingRunDeps } from './streaming';

export const wantsStream = (req: Request): boolean =>
  (req.body as { stream?: unknown } | undefined)?.stream === true || /\btext\/event-stream\b/.test(req.header('accept') ?? '');

/** Idempotency-Key replays a recorded JSON answer; a stream has none, so streamed runs skip it (a retried stream is a new run). */
export const unlessStreaming = (handler: RequestHandler): RequestHandler => (req, res, next) => (wantsStream(req) ? next() : handler(req, res, next));

export async function answerRunAsStream(deps: StreamingRunDeps, req: Request, res: Response, run: RunRequest, startedAt: number): Promise<void> {
  const streamed = await streamRun(deps, run, {
    open: () => {
      openEventStream(res);
      writeEvent(res, { run_id: run.runId, hold_mc: run.holdMc }, 'run.started');
    },
    text: (text) => writeEvent(res, { text }, 'output'),
  }, clientGone(res));
  const { outcome, opened } = streamed;
  if (!outcome) return;
  if (outcome.status !== 'succeeded') {
    const error = runOutcomeError(outcome, run.runId);
    // Before the first byte the client gets an ordinary HTTP error (402, 504, …).
    if (!opened) throw error;
    writeEvent(res, problemBody(error.type, error.title, error.status, error.detail, req.originalUrl, { ...error.extensions, request_id: req.id }), 'error');
    res.end();
    return;
  }
  writeEvent(res, { ...runView(outcome, Math.round(performance.now() - startedAt)), ...(streamed.diverged ? { stream_diverged: true } : {}) }, 'run.completed');
  res.end();
}
