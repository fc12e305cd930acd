/**
 * The queue contract shared by the ingress (producer), the worker (consumer), the dashboard
 * and the operator scripts. It depends on nothing internal, and imports neither Fastify nor Drizzle.
 */

/**
 * A Stripe event id as accepted for a job id: `evt_` then letters and digits, in `_`-separated parts
 * — a snapshot event's `evt_1Q…`, and the v2 forms of thin events (`evt_test_65R2Gpw…`, `evt_123` in
 * stripe-node's own tests). BullMQ rejects integers and `:`; this shape has neither, nor any other
 * character unsafe in a job id or a Redis key.
 */
export const STRIPE_EVENT_ID = /^evt_[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*$/;

export const DEFAULT_QUEUE_NAME = 'stripe-events';
export const DEFAULT_QUEUE_PREFIX = 'bull';

/**
 * A Stripe event as this project reads it: the verified webhook JSON (or an event from the
 * Events API). The one event type shared by the ingress, the worker, the billing domain, the
 * scripts and the test fixtures.
 */
export interface StripeEvent {
  id: string;
  object: 'event';
  type: string;
  /** Unix seconds; one-second resolution, so the events of one change often share a second. */
  created: number;
  api_version?: string | null;
  livemode?: boolean;
  data: { object: Record<string, unknown>; previous_attributes?: Record<string, unknown> };
  [key: string]: unknown;
}

/**
 * A thin event (Stripe's event destinations, `object: "v2.core.event"`): a signed notification that
 * something changed, unversioned, without the object. The consumer fetches `related_object`.
 * `snapshot_event` names the snapshot event of the same change, when there is one.
 */
export interface ThinEvent {
  id: string;
  object: 'v2.core.event';
  /** `v1.customer.subscription.updated`, `v1.invoice.paid`, `v2.core.event_destination.ping`… */
  type: string;
  /** ISO 8601 (`2026-10-01T12:00:00.000Z`), not Unix seconds as in a snapshot event. */
  created: string;
  livemode?: boolean;
  related_object?: { id: string; type: string; url: string } | null;
  snapshot_event?: string | null;
  [key: string]: unknown;
}

export const THIN_EVENT_OBJECT = 'v2.core.event';

/** Job data: the verified Stripe event, so the worker, the dashboard and a replay see the event. */
export type StripeEventJobData = StripeEvent;

/** What the worker returns for a job (shown in the dashboard). */
export interface StripeEventJobResult {
  outcome: string;
  /** Why an event was recorded `ignored`, when the worker knows more than the ledger keeps (a thin event's object gone). */
  reason?: string;
}

export function isStripeEventId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 255 && STRIPE_EVENT_ID.test(value);
}

/**
 * Checks that a verified payload has the shape of a Stripe event we can queue.
 * Returns a reason when it does not.
 */
export function invalidEventReason(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const event = value as Record<string, unknown>;
  if (event.object !== 'event') return 'object is not "event"';
  if (!isStripeEventId(event.id)) return 'id is not a Stripe event id (evt_…)';
  if (typeof event.type !== 'string' || event.type.length === 0 || event.type.length > 255) return 'type is missing';
  if (typeof event.created !== 'number' || !Number.isFinite(event.created)) return 'created is not a number';
  const data = event.data as Record<string, unknown> | undefined;
  if (typeof data !== 'object' || data === null || typeof data.object !== 'object' || data.object === null) {
    return 'data.object is missing';
  }
  return undefined;
}

/** Whether job data (or a parsed body) is a thin event notification rather than a snapshot event. */
export function isThinEvent(value: unknown): value is ThinEvent {
  return typeof value === 'object' && value !== null && (value as { object?: unknown }).object === THIN_EVENT_OBJECT;
}

/** Checks that a verified thin notification has the shape we can queue; returns a reason when it does not. */
export function invalidThinEventReason(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const event = value as Record<string, unknown>;
  if (event.object !== THIN_EVENT_OBJECT) return `object is not "${THIN_EVENT_OBJECT}"`;
  if (!isStripeEventId(event.id)) return 'id is not a Stripe event id (evt_…)';
  if (typeof event.type !== 'string' || event.type.length === 0 || event.type.length > 255) return 'type is missing';
  if (typeof event.created !== 'string' || Number.isNaN(Date.parse(event.created))) return 'created is not an ISO 8601 time';
  if (event.snapshot_event != null && !isStripeEventId(event.snapshot_event)) return 'snapshot_event is not a Stripe event id (evt_…)';
  const related = event.related_object as Record<string, unknown> | null | undefined;
  if (related != null && (typeof related !== 'object' || typeof related.id !== 'string' || typeof related.type !== 'string')) {
    return 'related_object has no id and type';
  }
  return undefined;
}

/** Job id = Stripe event id; throws on anything else rather than letting BullMQ mangle it. */
export function jobIdFor(event: { id: unknown }): string {
  if (!isStripeEventId(event.id)) throw new TypeError(`not a Stripe event id: ${String(event.id).slice(0, 64)}`);
  return event.id;
}
