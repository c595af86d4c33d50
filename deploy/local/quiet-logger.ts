// A logger for workflow bundling and test workers that keeps their output to errors (webpack's progress chatter stays out).
export const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string, meta?: unknown) => console.error(message, meta),
};
