import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import Stripe from 'stripe';

/**
 * The bench's reference servers' common part: a Fastify app whose webhook route verifies the
 * Stripe signature on the raw body with Stripe's own `constructEvent` (400 if it fails), then
 * hands the event to `handle`, whose value is the answer.
 */
export function verifyingEndpoint(secret: string, handle: (event: Stripe.Event, reply: FastifyReply) => Promise<unknown>): FastifyInstance {
  const stripe = new Stripe('sk_unused_bench_only_verifies', { telemetry: false });
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.post('/checkout/webhooks/stripe', async (request, reply) => {
    let event: Stripe.Event;
    try {
      event = stripe.webhooks.constructEvent(request.body as Buffer, request.headers['stripe-signature'] ?? '', secret);
    } catch {
      return reply.code(400).send({ error: 'invalid_signature' });
    }
    return handle(event, reply);
  });
  return app;
}
