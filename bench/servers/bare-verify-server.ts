/**
 * The upper bounds of any ingress, as a child process run by `ingress.ts` (env PORT,
 * STRIPE_WEBHOOK_SECRET, optional BARE_REDIS_URL):
 * - without BARE_REDIS_URL: a bare Fastify endpoint that verifies the Stripe signature on the raw
 *   body (Stripe's own `constructEvent`) and answers 200 — no queue, no logging, no metrics;
 * - with BARE_REDIS_URL: the same, plus the least any ingress that answers 200 only once Redis
 *   holds the event must do: one `SET <event id> NX` round trip (no job, no Lua, no log).
 */
import { Redis } from 'ioredis';
import { verifyingEndpoint } from './verifying-endpoint';

const port = Number(process.env.PORT ?? 0);
const secret = process.env.STRIPE_WEBHOOK_SECRET ?? '';
const redis = process.env.BARE_REDIS_URL ? new Redis(process.env.BARE_REDIS_URL, { maxRetriesPerRequest: 1 }) : undefined;

const app = verifyingEndpoint(secret, async (event) => {
  if (redis !== undefined) {
    // A short expiry: the bench fires ~100k unique ids at the shared local Redis.
    const added = await redis.set(`bench:bare:${event.id}`, '1', 'EX', 120, 'NX');
    if (added === null) return { received: true, duplicate: true };
  }
  return { received: true };
});

const url = await app.listen({ port, host: '127.0.0.1' });
console.log(JSON.stringify({ msg: 'bare listening', url }));
process.on(
  'SIGTERM',
  () =>
    void app.close().then(async () => {
      await redis?.quit();
      process.exit(0);
    }),
);
