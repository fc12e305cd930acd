import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stdout. Secrets never reach them: headers are not logged, and the paths below
 * are redacted in case a caller passes a request or an error carrying them.
 */
export function createLogger(name: string, level = 'info', destination?: DestinationStream): Logger {
  const options = {
    name,
    level,
    base: { app: name },
    redact: {
      paths: ['req.headers["stripe-signature"]', 'req.headers.authorization', 'headers["stripe-signature"]', 'secret'],
      censor: '[redacted]',
    },
  };
  // Asynchronous writes keep a log line per event off the request's critical path; pino
  // flushes what is buffered when the process exits (lost only on SIGKILL).
  // `destination`: where tests read the lines.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
