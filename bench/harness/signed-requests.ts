import { randomBytes } from 'node:crypto';
import { hmac, type StripeEvent } from '@billing/stripe-simulator/events';

/** Validly signed webhook deliveries, each with an event id of its own, built before a run. */
export interface SignedRequests {
  bodies: Buffer[];
  signatures: string[];
  ids: string[];
}

const PLACEHOLDER = 'evt_PLACEHOLDER';

/**
 * Signs `count` deliveries ahead of a run, so signing costs the load generator nothing while it
 * runs. Bodies cycle through real-shaped `templates` (the event mix) with a fresh id each; the
 * signature is Stripe's scheme over the exact bytes sent, timestamped now (tolerance 300 s).
 */
export function signRequests(templates: readonly StripeEvent[], count: number, secret: string): SignedRequests {
  const parts = templates.map((t) => JSON.stringify({ ...t, id: PLACEHOLDER }).split(PLACEHOLDER) as [string, string]);
  const tag = randomBytes(6).toString('hex');
  const timestamp = Math.floor(Date.now() / 1000);
  const bodies = new Array<Buffer>(count);
  const signatures = new Array<string>(count);
  const ids = new Array<string>(count);
  for (let i = 0; i < count; i += 1) {
    const [head, rest] = parts[i % parts.length] as [string, string];
    const id = `evt_${tag}${i.toString(36)}`;
    const payload = head + id + rest;
    ids[i] = id;
    bodies[i] = Buffer.from(payload);
    signatures[i] = `t=${timestamp},v1=${hmac(payload, secret, timestamp)}`;
  }
  return { bodies, signatures, ids };
}
