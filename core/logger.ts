// Structured JSON logs. `npm run dev` pipes them through pino-pretty; production
// ships the JSON as it is.
import { pino, type DestinationStream, type Logger } from 'pino';
import { logTraceIds } from './observability/log-context';

export type { Logger };

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.secret', '*.apiKey', '*.token'], censor: '[redacted]' },
    // trace_id and span_id of the active span (tracing on), so a log line leads to its trace.
    mixin: logTraceIds,
  }, destination);
}
