import type { StripeEvent } from '@billing/queue';
import type { BuiltHistory } from './corpus-builders';
import { activeEntitlementObject } from './entitlements';
import { SubscriptionHistory } from './history';
import { StripeApiError } from './stripe-api-error';
import type { PageParams } from './stripe-query';

/**
 * The truth behind the fake Stripe API: the events of simulated histories and every version of
 * the objects they carry (subscriptions, invoices, checkout sessions), plus what a test sets by
 * hand (a subscription changed or deleted behind the events' back, entitlements). No I/O: the
 * server (`fake-api.ts`) reads it.
 *
 * What is served "now": by default each object's newest version — for a loaded history, Stripe's
 * final object (`history.final`, the oracle's); after `setAsOf(t)`, each object as of the last
 * event at or before `t`, and only the events created by then. A subscription set or deleted by
 * hand wins in either view.
 */

type Json = Record<string, unknown>;

/** Stripe keeps events for 30 days: older ones are neither listed nor retrievable. */
export const EVENT_RETENTION_SECONDS = 30 * 86_400;

/** Object types whose versions are kept from the events that carry them (and served by id). */
export const SERVED_OBJECT_TYPES = ['subscription', 'invoice', 'checkout.session'] as const;
export type ServedObjectType = (typeof SERVED_OBJECT_TYPES)[number];

/** `GET /v1/subscriptions?status=` values (Stripe's List subscriptions reference). */
export const SUBSCRIPTION_STATUS_FILTERS = [
  'active',
  'all',
  'canceled',
  'ended',
  'incomplete',
  'incomplete_expired',
  'past_due',
  'paused',
  'trialing',
  'unpaid',
] as const;
export type SubscriptionStatusFilter = (typeof SUBSCRIPTION_STATUS_FILTERS)[number];

interface Version {
  /** The `created` of the event that carried it (Unix seconds). */
  at: number;
  seq: number;
  object: Json;
}

interface StoredEvent {
  event: StripeEvent;
  seq: number;
  deliverySuccess: boolean;
}

/** A record in list order: `created` (Unix seconds) and the order it became known (later first within a second). */
interface Ordered {
  id: string;
  created: number;
  seq: number;
}

export interface ListPage<T> {
  data: T[];
  has_more: boolean;
}

export interface EventFilter {
  /** Exact types; `*` is a wildcard (`customer.subscription.*`). */
  types?: string[];
  created?: (t: number) => boolean;
  deliverySuccess?: boolean;
}

export interface SubscriptionFilter {
  /** @defaultValue every subscription but `canceled` ones (Stripe's default). */
  status?: SubscriptionStatusFilter;
  customer?: string;
  price?: string;
  created?: (t: number) => boolean;
}

export interface AddEventOptions {
  /** Whether every webhook delivery of the event succeeded (the `delivery_success` filter). @defaultValue true */
  deliverySuccess?: boolean;
}

const idOf = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'object' && value !== null ? ((value as Json).id as string | undefined) : undefined;

function typeMatcher(types: string[]): (type: string) => boolean {
  const patterns = types.map((t) => new RegExp(`^${t.split('*').map(escapeRegExp).join('.*')}$`));
  return (type) => patterns.some((p) => p.test(type));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * One page of `ordered` (newest first), as Stripe pages: the cursor is a position in the whole
 * collection (an object that no longer matches the filter, or is hidden, still marks its place),
 * `starting_after` continues towards older objects, `ending_before` towards newer ones (the
 * `limit` closest to the cursor, still newest first).
 */
export function pageOf<T extends Ordered>(
  ordered: readonly T[],
  matches: (item: T) => boolean,
  params: PageParams,
  kind: string,
): ListPage<T> {
  const cursor = params.startingAfter ?? params.endingBefore;
  let candidates: T[];
  if (cursor === undefined) {
    candidates = ordered.filter(matches);
  } else {
    const index = ordered.findIndex((item) => item.id === cursor);
    if (index < 0) throw StripeApiError.missing(kind, cursor, params.startingAfter !== undefined ? 'starting_after' : 'ending_before');
    candidates = params.startingAfter !== undefined ? ordered.slice(index + 1).filter(matches) : ordered.slice(0, index).filter(matches);
  }
  if (params.endingBefore !== undefined) {
    return { data: candidates.slice(Math.max(0, candidates.length - params.limit)), has_more: candidates.length > params.limit };
  }
  return { data: candidates.slice(0, params.limit), has_more: candidates.length > params.limit };
}

const newestFirst = (a: Ordered, b: Ordered) => b.created - a.created || b.seq - a.seq;

export class FakeStripeState {
  private readonly storedEvents = new Map<string, StoredEvent>();
  private readonly versions = new Map<ServedObjectType, Map<string, Version[]>>();
  /** Subscriptions set (an object) or deleted (`null`) by hand. */
  private readonly overrides = new Map<string, Json | null>();
  /** When each subscription became known: its place among those created in the same second. */
  private readonly firstSeen = new Map<string, number>();
  private readonly entitlementsByCustomer = new Map<string, Json[]>();
  private seq = 0;
  private asOfTime: number | undefined;
  private fixedNow: number | undefined;

  /** @param clock - Unix seconds "now" for the 30-day event window. @defaultValue the wall clock */
  constructor(private readonly clock: () => number = () => Math.floor(Date.now() / 1000)) {
    for (const type of SERVED_OBJECT_TYPES) this.versions.set(type, new Map());
  }

  /** "Now" in Unix seconds: the fixed time of `setNow`, else the clock. */
  now(): number {
    return this.fixedNow ?? this.clock();
  }

  /** Fixes "now" (the 30-day window's end) at `t`; `undefined` goes back to the clock. */
  setNow(t: number | undefined): void {
    this.fixedNow = t;
  }

  /** Serves objects as of `t` (and lists only events created by then); `undefined`: the newest versions. */
  setAsOf(t: number | undefined): void {
    this.asOfTime = t;
  }

  get asOf(): number | undefined {
    return this.asOfTime;
  }

  // ——— Seeding ———

  /** Adds an event, and the version of the subscription, invoice or checkout session it carries. */
  addEvent(event: StripeEvent, options: AddEventOptions = {}): void {
    if (this.storedEvents.has(event.id)) throw new Error(`FakeStripeState: event ${event.id} is already loaded`);
    const seq = ++this.seq;
    this.storedEvents.set(event.id, { event: structuredClone(event), seq, deliverySuccess: options.deliverySuccess ?? true });
    const object = event.data.object;
    const type = object.object as ServedObjectType;
    if (SERVED_OBJECT_TYPES.includes(type) && typeof object.id === 'string') {
      this.addVersion(type, object.id, event.created, object);
    }
  }

  addEvents(events: readonly StripeEvent[], options: AddEventOptions = {}): void {
    for (const event of events) this.addEvent(event, options);
  }

  /**
   * Loads a history (one `SubscriptionHistory`, or a corpus case's `BuiltHistory`): its events in
   * order, then each subscription's final object (`history.final`) as its newest version.
   */
  loadHistory(history: SubscriptionHistory | BuiltHistory, options: AddEventOptions = {}): void {
    const built = history instanceof SubscriptionHistory ? { events: history.events, subscriptions: [history] } : history;
    this.addEvents(built.events, options);
    for (const subscription of built.subscriptions) {
      const last = Math.max(...subscription.events.map((e) => e.created));
      this.addVersion('subscription', subscription.ids.subscription, last, subscription.final);
    }
  }

  /** Sets what Stripe holds for a subscription, whatever its events said (drift seeded on purpose); a new id adds one. */
  setSubscription(object: Json): void {
    const id = object.id;
    if (typeof id !== 'string' || object.object !== 'subscription')
      throw new Error('FakeStripeState.setSubscription: not a subscription object');
    if (!this.firstSeen.has(id)) this.firstSeen.set(id, ++this.seq);
    this.overrides.set(id, structuredClone(object));
  }

  /** Changes top-level fields of the subscription served now (`{ status: 'canceled' }`). */
  updateSubscription(id: string, change: Json): void {
    const current = this.subscription(id);
    if (!current) throw new Error(`FakeStripeState.updateSubscription: no subscription ${id}`);
    this.setSubscription({ ...current, ...structuredClone(change), id, object: 'subscription' });
  }

  /** Makes Stripe not know the subscription: 404 on retrieve, absent from lists. */
  deleteSubscription(id: string): void {
    this.overrides.set(id, null);
  }

  setDeliverySuccess(eventId: string, success: boolean): void {
    const stored = this.storedEvents.get(eventId);
    if (!stored) throw new Error(`FakeStripeState.setDeliverySuccess: no event ${eventId}`);
    stored.deliverySuccess = success;
  }

  /** A customer's active entitlements, in list order: lookup keys, or whole `entitlements.active_entitlement` objects. */
  setEntitlements(customer: string, entitlements: ReadonlyArray<string | Json>): void {
    this.entitlementsByCustomer.set(
      customer,
      entitlements.map((e) => (typeof e === 'string' ? activeEntitlementObject(customer, e) : structuredClone(e))),
    );
  }

  /** Forgets everything seeded; keeps the clock. */
  clear(): void {
    this.storedEvents.clear();
    for (const map of this.versions.values()) map.clear();
    this.overrides.clear();
    this.firstSeen.clear();
    this.entitlementsByCustomer.clear();
    this.asOfTime = undefined;
    this.fixedNow = undefined;
  }

  private addVersion(type: ServedObjectType, id: string, at: number, object: Json): void {
    const map = this.versions.get(type)!;
    const list = map.get(id) ?? [];
    list.push({ at, seq: ++this.seq, object: structuredClone(object) });
    map.set(id, list);
    if (type === 'subscription' && !this.firstSeen.has(id)) this.firstSeen.set(id, this.seq);
  }

  // ——— Reading ———

  private visibleEvent(stored: StoredEvent): boolean {
    const created = stored.event.created;
    return created >= this.now() - EVENT_RETENTION_SECONDS && (this.asOfTime === undefined || created <= this.asOfTime);
  }

  /** The event, if Stripe would still return it (created in the last 30 days, and by the as-of time). */
  event(id: string): StripeEvent | undefined {
    const stored = this.storedEvents.get(id);
    return stored && this.visibleEvent(stored) ? structuredClone(stored.event) : undefined;
  }

  listEvents(filter: EventFilter, params: PageParams): ListPage<StripeEvent> {
    const typeMatches = filter.types && filter.types.length > 0 ? typeMatcher(filter.types) : () => true;
    const ordered = [...this.storedEvents.values()]
      .map((s) => ({ id: s.event.id, created: s.event.created, seq: s.seq, stored: s }))
      .sort(newestFirst);
    const page = pageOf(
      ordered,
      ({ stored }) =>
        this.visibleEvent(stored) &&
        typeMatches(stored.event.type) &&
        (filter.created?.(stored.event.created) ?? true) &&
        (filter.deliverySuccess === undefined || stored.deliverySuccess === filter.deliverySuccess),
      params,
      'event',
    );
    return { data: page.data.map(({ stored }) => structuredClone(stored.event)), has_more: page.has_more };
  }

  /** The version served now of an object carried by events (as of the as-of time, if set). */
  object(type: ServedObjectType, id: string): Json | undefined {
    if (type === 'subscription') return this.subscription(id);
    return this.versionOf(type, id);
  }

  private versionOf(type: ServedObjectType, id: string): Json | undefined {
    const list = this.versions.get(type)!.get(id);
    if (!list) return undefined;
    let chosen: Version | undefined;
    for (const version of list) {
      if (this.asOfTime !== undefined && version.at > this.asOfTime) continue;
      if (!chosen || version.at > chosen.at || (version.at === chosen.at && version.seq > chosen.seq)) chosen = version;
    }
    return chosen && structuredClone(chosen.object);
  }

  subscription(id: string): Json | undefined {
    const override = this.overrides.get(id);
    if (override !== undefined) return override === null ? undefined : structuredClone(override);
    return this.versionOf('subscription', id);
  }

  listSubscriptions(filter: SubscriptionFilter, params: PageParams): ListPage<Json> {
    const ids = new Set([...this.versions.get('subscription')!.keys(), ...this.overrides.keys()]);
    const ordered = [...ids]
      .map((id) => ({ id, object: this.subscription(id) }))
      .map((r) => ({ ...r, created: (r.object?.created as number | undefined) ?? 0, seq: this.firstSeen.get(r.id) ?? 0 }))
      .sort(newestFirst);
    const statusMatches = statusFilter(filter.status);
    const page = pageOf(
      ordered,
      ({ object }) =>
        object !== undefined &&
        statusMatches(String(object.status)) &&
        (filter.customer === undefined || idOf(object.customer) === filter.customer) &&
        (filter.price === undefined || subscriptionPrices(object).includes(filter.price)) &&
        (filter.created?.(object.created as number) ?? true),
      params,
      'subscription',
    );
    return { data: page.data.map(({ object }) => object!), has_more: page.has_more };
  }

  listEntitlements(customer: string, params: PageParams): ListPage<Json> {
    const list = this.entitlementsByCustomer.get(customer) ?? [];
    // No `created` on an active entitlement: the list keeps the order it was set in.
    const ordered = list.map((object, i) => ({ id: object.id as string, created: 0, seq: -i, object }));
    const page = pageOf(ordered, () => true, params, 'entitlements.active_entitlement');
    return { data: page.data.map(({ object }) => structuredClone(object)), has_more: page.has_more };
  }

  entitlement(id: string): Json | undefined {
    for (const list of this.entitlementsByCustomer.values()) {
      const found = list.find((e) => e.id === id);
      if (found) return structuredClone(found);
    }
    return undefined;
  }
}

function statusFilter(status: SubscriptionStatusFilter | undefined): (status: string) => boolean {
  if (status === undefined) return (s) => s !== 'canceled';
  if (status === 'all') return () => true;
  if (status === 'ended') return (s) => s === 'canceled' || s === 'incomplete_expired';
  return (s) => s === status;
}

function subscriptionPrices(subscription: Json): string[] {
  const items = (subscription.items as { data?: Json[] } | undefined)?.data ?? [];
  return items.map((item) => idOf(item.price)).filter((id): id is string => id !== undefined);
}
