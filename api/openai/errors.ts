// OpenAI-compatible routes answer errors in OpenAI's shape,
// `{"error": {"message", "type", "param", "code"}}`, because that is what
// OpenAI's SDKs and every tool built on them parse; statuses and headers
// (Retry-After, RateLimit) are the same as on the rest of the API.
import type { ErrorRequestHandler } from 'express';
import type { AppError, ProblemType } from '../../core/errors';
import { toAppError } from '../middleware/problem';

const OPENAI_ERRORS: Partial<Record<ProblemType, { type: string; code: string }>> = {
  validation: { type: 'invalid_request_error', code: 'invalid_request' },
  unauthorized: { type: 'invalid_request_error', code: 'invalid_api_key' },
  forbidden: { type: 'permission_error', code: 'insufficient_scope' },
  'not-found': { type: 'invalid_request_error', code: 'model_not_found' },
  'insufficient-credits': { type: 'insufficient_quota', code: 'insufficient_credits' },
  'rate-limited': { type: 'rate_limit_error', code: 'rate_limit_exceeded' },
  'upstream-timeout': { type: 'timeout_error', code: 'agent_timeout' },
  'upstream-unavailable': { type: 'api_error', code: 'agent_failed' },
  'payload-too-large': { type: 'invalid_request_error', code: 'payload_too_large' },
};

export function openAiError(err: AppError): { status: number; body: { error: { message: string; type: string; param: string | null; code: string } } } {
  const kind = OPENAI_ERRORS[err.type] ?? { type: err.status < 500 ? 'invalid_request_error' : 'api_error', code: err.type.replace(/-/g, '_') };
  const errors = err.extensions.errors as { path: string; message: string }[] | undefined;
  const message = errors?.length ? `${err.detail ?? err.title}: ${errors.map((e) => `${e.path || 'body'}: ${e.message}`).join('; ')}` : (err.detail ?? err.title);
  return { status: err.status, body: { error: { message, type: kind.type, param: errors?.[0]?.path || null, code: kind.code } } };
}

export const openAiErrorHandler: ErrorRequestHandler = (err, req, res, next) => {
  const appError = toAppError(err);
  // Anything unexpected goes on to the API's one handler, which logs it and answers a generic 500.
  if (!appError || res.headersSent) return next(err);
  if (appError.status >= 500) req.log?.error({ err }, appError.title);
  for (const [k, v] of Object.entries(appError.headers)) res.setHeader(k, v);
  const { status, body } = openAiError(appError);
  res.status(status).json(body);
};
