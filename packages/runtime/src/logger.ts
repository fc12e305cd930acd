import { pino, type DestinationStream, type Logger } from 'pino';
import { scrubError } from './scrub-error';

export type { Logger };

/**
 * JSON logs on stdout. Secrets never reach them: headers are not logged, and the paths below
 * are redacted in case a caller passes a request or an error carrying them. Nor do query values:
 * every error logged as `err` is scrubbed first (`scrubError`: no Drizzle params, no Postgres
 * `detail`, no postgres-js `parameters`).
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
    serializers: { err: (value: unknown) => pino.stdSerializers.err(value instanceof Error ? scrubError(value) : (value as Error)) },
  };
  // Asynchronous writes keep a log line per event off the request's critical path; pino
  // flushes what is buffered when the process exits (lost only on SIGKILL).
  // `destination`: where tests read the lines.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
