/**
 * The synchronous reference, as a child process run by `burst.ts` (env PORT,
 * STRIPE_WEBHOOK_SECRET, DATABASE_URL, SYNC_CONNECTIONS, LOG_LEVEL): what the peers do — a
 * Fastify endpoint that verifies the Stripe signature on the raw body and applies the event to
 * Postgres inside the request (the billing domain's own `applyEvent`, one transaction per event),
 * answering 200 once it committed. Each request in flight holds one single-connection client
 * (`createConnection`) of a small set, handed out in turn; past that many, requests wait for one.
 * One log line per event, as the worker writes.
 */
import { applyEvent, defaultBillingConfig, InvalidEventError } from '@billing/billing';
import { createConnection, type Sql } from '@billing/db/client';
import type { StripeEvent } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { verifyingEndpoint } from './verifying-endpoint';

const port = Number(process.env.PORT ?? 0);
const secret = process.env.STRIPE_WEBHOOK_SECRET ?? '';
const size = Number(process.env.SYNC_CONNECTIONS ?? 10);
const logger = createLogger('sync-reference', process.env.LOG_LEVEL ?? 'info');

const idle: Sql[] = Array.from({ length: size }, () => createConnection(process.env.DATABASE_URL ?? '', 'billing-bench-sync'));
const all = [...idle];
const waiting: Array<(connection: Sql) => void> = [];
const acquire = (): Promise<Sql> => {
  const connection = idle.pop();
  return connection ? Promise.resolve(connection) : new Promise((resolve) => waiting.push(resolve));
};
const release = (connection: Sql) => {
  const next = waiting.shift();
  if (next) next(connection);
  else idle.push(connection);
};

const app = verifyingEndpoint(secret, async (event, reply) => {
  const connection = await acquire();
  try {
    const result = await applyEvent(connection, event as unknown as StripeEvent, defaultBillingConfig);
    logger.info(
      { eventId: event.id, eventType: event.type, outcome: result.outcome, subscription: result.subscriptionId },
      'event processed',
    );
    return { received: true };
  } catch (error) {
    logger.error({ eventId: event.id, err: error }, 'event failed');
    return reply.code(error instanceof InvalidEventError ? 400 : 500).send({ error: 'not_applied' });
  } finally {
    release(connection);
  }
});

// Open every connection before announcing readiness, as the worker does (waitForDatabase).
await Promise.all(all.map((c) => c`select 1`));
const url = await app.listen({ port, host: '127.0.0.1' });
console.log(JSON.stringify({ msg: 'sync reference listening', url, connections: size }));
process.on(
  'SIGTERM',
  () =>
    void app.close().then(async () => {
      await Promise.all(all.map((c) => c.end({ timeout: 5 })));
      process.exit(0);
    }),
);
