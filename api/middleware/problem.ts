// The one error handler: every error leaves as RFC 9457 problem+json with a
// stable type. Unknown errors are logged and answered as a generic 500 without
// internals.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError } from 'zod';
import { AppError, PROBLEM_BASE, problemTypes, type ProblemType } from '../../core/errors';

export function problemBody(type: ProblemType, title: string, status: number, detail: string | undefined, instance: string, extensions: Record<string, unknown> = {}) {
  return { type: `${PROBLEM_BASE}${type}`, title, status, ...(detail ? { detail } : {}), instance, ...extensions };
}

/** Maps body-parser and other framework errors onto our taxonomy. */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) {
    return new AppError('validation', 'Invalid request', 'The request does not match the schema', {
      errors: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
  const status = e.status ?? e.statusCode;
  if (e.type === 'entity.too.large') return new AppError('payload-too-large', 'Payload too large', 'The request body is too large');
  if (e.type === 'entity.parse.failed') return new AppError('validation', 'Invalid request', 'The request body is not valid JSON');
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
    return new AppError('unsupported-media-type', 'Unsupported media type', e.message);
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new AppError('validation', 'Invalid request', e.message ?? 'Bad request');
  }
  return undefined;
}

export const problemHandler: ErrorRequestHandler = (err, req, res, _next) => {
  if (res.headersSent) {
    // A stream already under way (its status is sent): no problem document can follow. Log it and end the response
    // cleanly rather than letting res.status() throw and the socket be destroyed.
    req.log?.error({ err }, 'error after the response started');
    if (!res.writableEnded) res.end();
    return;
  }
  const appError = toAppError(err);
  if (!appError) {
    req.log?.error({ err }, 'unhandled error');
    res.status(500).type('application/problem+json').json(problemBody('internal', 'Internal error', 500, 'Something went wrong on our side', req.originalUrl, { request_id: req.id }));
    return;
  }
  if (appError.status >= 500) req.log?.error({ err }, appError.title);
  for (const [k, v] of Object.entries(appError.headers)) res.setHeader(k, v);
  res
    .status(appError.status)
    .type('application/problem+json')
    .json(problemBody(appError.type, appError.title, problemTypes[appError.type], appError.detail, req.originalUrl, { ...appError.extensions, request_id: req.id }));
};

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError('not-found', 'Not found', `No route for ${req.method} ${req.path}`));
};
