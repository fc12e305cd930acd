/**
 * The upper bound of any ingress: a bare Fastify endpoint that verifies the Stripe signature on
 * the raw body (Stripe's own `constructEvent`) and answers 200 — no queue, no logging, no metrics.
 * Run as a child process by `ingress.ts`; env PORT, STRIPE_WEBHOOK_SECRET.
 */
import Fastify from 'fastify';
import Stripe from 'stripe';

const port = Number(process.env.PORT ?? 0);
const secret = process.env.STRIPE_WEBHOOK_SECRET ?? '';
const stripe = new Stripe('sk_unused_bench_only_verifies', { telemetry: false });

const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

app.post('/checkout/webhooks/stripe', async (request, reply) => {
  try {
    stripe.webhooks.constructEvent(request.body as Buffer, request.headers['stripe-signature'] ?? '', secret);
  } catch {
    return reply.code(400).send({ error: 'invalid_signature' });
  }
  return { received: true };
});

const url = await app.listen({ port, host: '127.0.0.1' });
console.log(JSON.stringify({ msg: 'bare listening', url }));
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
