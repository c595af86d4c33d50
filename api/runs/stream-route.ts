// POST /v1/runs with `"stream": true` (or `Accept: text/event-stream`):
// Server-Sent Events. `run.started` once the hold is placed, `output` events
// with the text as the runtime produces it, then `run.completed` with the
// whole Run (output, credits charged, balance) — or `error` with a problem
// document if the run fails after the stream opened.
import type { Request, RequestHandler, Response } from 'express';
import { problemBody } from '../middleware/problem';
import type { RunRequest } from '../../core/runs/contract';
import { runView } from './outcome';
import type { RunStarter } from './run-starter';
import { answerWithEventStream, writeEvent } from './streaming';

export const wantsStream = (req: Request): boolean =>
  (req.body as { stream?: unknown } | undefined)?.stream === true || /\btext\/event-stream\b/.test(req.header('accept') ?? '');

/** Idempotency-Key replays a recorded JSON answer; a stream has none, so streamed runs skip it (a retried stream is a new run). */
export const unlessStreaming = (handler: RequestHandler): RequestHandler => (req, res, next) => (wantsStream(req) ? next() : handler(req, res, next));

export function answerRunAsStream(starter: RunStarter, req: Request, res: Response, run: RunRequest, startedAt: number): Promise<void> {
  return answerWithEventStream(res, starter, run, startedAt, {
    started: () => writeEvent(res, { run_id: run.runId, hold_mc: run.holdMc }, 'run.started'),
    text: (text) => writeEvent(res, { text }, 'output'),
    error: (error) =>
      writeEvent(res, problemBody(error.type, error.title, error.status, error.detail, req.originalUrl, { ...error.extensions, request_id: req.id }), 'error'),
    done: (outcome, diverged) =>
      writeEvent(res, { ...runView(outcome, Math.round(performance.now() - startedAt)), ...(diverged ? { stream_diverged: true } : {}) }, 'run.completed'),
  });
}
