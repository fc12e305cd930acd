import { InvalidEventError } from './invalid-event-error';

/** A JSON object as Stripe sends it. */
export type StripeObject = Record<string, unknown>;

export function isObject(value: unknown): value is StripeObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An id field that may be a string or an expanded object `{ id }`. */
export function idOf(value: unknown): string | null {
  if (typeof value === 'string' && value.length > 0) return value;
  if (isObject(value) && typeof value.id === 'string' && value.id.length > 0) return value.id;
  return null;
}

/** Unix seconds, or `null` for anything that is not a positive number. */
export function secondsOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : null;
}

/** The list of a Stripe list object (`{ object: 'list', data: [...] }`), or `[]`. */
export function listOf(value: unknown): StripeObject[] {
  return isObject(value) && Array.isArray(value.data) ? value.data.filter(isObject) : [];
}

/** The event's `data.object`, checked to be a `kind` with an id; else `InvalidEventError`. */
export function requireObject(object: unknown, kind: string, eventType: string): StripeObject & { id: string } {
  if (!isObject(object)) throw new InvalidEventError(`${eventType}: data.object is missing`);
  if (object.object !== kind) {
    throw new InvalidEventError(`${eventType}: data.object is a ${String(object.object)}, expected ${kind}`);
  }
  if (typeof object.id !== 'string' || object.id.length === 0) {
    throw new InvalidEventError(`${eventType}: the ${kind} has no id`);
  }
  return object as StripeObject & { id: string };
}
