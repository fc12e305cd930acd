import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stdout. Secrets never reach them: headers are not logged, and the paths below
 * are redacted in case a caller passes a request or an error carrying them.
 */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({
    name,
    level,
    base: { app: name },
    redact: {
      paths: ['req.headers["stripe-signature"]', 'req.headers.authorization', 'headers["stripe-signature"]', 'secret'],
      censor: '[redacted]',
    },
  });
}
