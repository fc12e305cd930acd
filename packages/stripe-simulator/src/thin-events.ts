import { randomBytes } from 'node:crypto';
import type { StripeEvent, ThinEvent } from '@billing/queue';
import Stripe from 'stripe';

/**
 * Thin events as an event destination sends them (`object: "v2.core.event"`): the notification of
 * a change, with the object's id and URL (`related_object`) and, when a snapshot event of the same
 * change exists, its id (`snapshot_event`). Built for the tests and the demo; signed with the SDK's
 * own header generation, so what the ingress verifies is what Stripe's SDK would produce.
 */

/** The kinds of object a thin event of v1 resources names, and where the API serves each. */
const RELATED_URLS: Record<string, string> = {
  subscription: '/v1/subscriptions/',
  invoice: '/v1/invoices/',
  'checkout.session': '/v1/checkout/sessions/',
};

/** A v2 event id as Stripe's docs show them (`evt_test_65R2Gpw…`): a second underscore. */
export function thinEventId(): string {
  return `evt_test_65${randomBytes(18).toString('base64url').replace(/[-_]/g, 'x')}`;
}

export interface ThinEventFields {
  type: string;
  /** The object changed; none for a ping without one. */
  related?: { id: string; type: string };
  snapshotEvent?: string;
  /** Unix seconds. @defaultValue now */
  created?: number;
  id?: string;
}

export function thinEvent(fields: ThinEventFields): ThinEvent {
  const { related } = fields;
  return {
    id: fields.id ?? thinEventId(),
    object: 'v2.core.event',
    type: fields.type,
    livemode: false,
    created: new Date((fields.created ?? Math.floor(Date.now() / 1000)) * 1000).toISOString(),
    related_object: related
      ? { id: related.id, type: related.type, url: `${RELATED_URLS[related.type] ?? '/v1/unknown/'}${related.id}` }
      : null,
    ...(fields.snapshotEvent !== undefined && { snapshot_event: fields.snapshotEvent }),
    reason: { type: 'request', request: { id: `req_${randomBytes(8).toString('hex')}`, idempotency_key: null } },
  };
}

/** `v2.core.event_destination.ping`: what "Send test event" of a destination delivers. */
export function thinPing(): ThinEvent {
  return thinEvent({
    type: 'v2.core.event_destination.ping',
    related: { id: `ed_test_${randomBytes(6).toString('hex')}`, type: 'v2.core.event_destination' },
  });
}

/** The types of snapshot events that have a thin twin handled by the worker. */
const TWINNED = /^(customer\.subscription\.|invoice\.(paid|payment_succeeded|payment_failed)$|checkout\.session\.completed$)/;

/**
 * The thin twin of a snapshot event (Stripe sends both when a destination of each kind listens):
 * same change, `v1.`-prefixed type, the object by reference, `snapshot_event` naming the snapshot.
 * `undefined` for a type with no twin handled here.
 */
export function thinTwinOf(snapshot: StripeEvent): ThinEvent | undefined {
  if (!TWINNED.test(snapshot.type)) return undefined;
  const object = snapshot.data.object;
  return thinEvent({
    type: `v1.${snapshot.type}`,
    related: { id: String(object.id), type: String(object.object) },
    snapshotEvent: snapshot.id,
    created: snapshot.created,
  });
}

const sdk = new Stripe('sk_test_thin_fixtures_never_call_the_api', { telemetry: false });

/** The `Stripe-Signature` header for `body`, by the SDK's `generateTestHeaderString`. */
export function thinSignatureHeader(body: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return sdk.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });
}
