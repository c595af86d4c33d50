// Structured JSON logs. `npm run dev` pipes them through pino-pretty; production
// ships the JSON as it is.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.secret', '*.apiKey', '*.token'], censor: '[redacted]' },
  });
}
