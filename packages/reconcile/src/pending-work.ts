import { invoiceSubscription } from '@billing/billing';
import type { EventQueue, StripeEvent } from '@billing/queue';

/** The queue states whose events the worker has still to apply. */
export const PENDING_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/** Events still queued (waiting, active, delayed), by the subscription and the customer they are about. */
export interface PendingWork {
  subscriptions: ReadonlyMap<string, string[]>;
  customers: ReadonlyMap<string, string[]>;
}

export const NO_PENDING_WORK: PendingWork = { subscriptions: new Map(), customers: new Map() };

const idOf = (value: unknown): string | null =>
  typeof value === 'string' && value.length > 0
    ? value
    : typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string'
      ? (value as { id: string }).id
      : null;

/** The subscription and customer a queued event is about (a subscription, an invoice's, a checkout's). */
export function ownerOfEvent(event: Pick<StripeEvent, 'data'>): { subscriptionId: string | null; customerId: string | null } {
  const object = event.data?.object ?? {};
  const customerId = idOf(object.customer);
  if (object.object === 'subscription') return { subscriptionId: idOf(object.id), customerId };
  if (object.object === 'invoice') return { subscriptionId: invoiceSubscription(object).subscriptionId, customerId };
  if (object.object === 'checkout.session') return { subscriptionId: idOf(object.subscription), customerId };
  return { subscriptionId: null, customerId };
}

/** Pending work from the queued events (job data: the event). */
export function pendingWorkOf(events: ReadonlyArray<Pick<StripeEvent, 'id' | 'data'>>): PendingWork {
  const subscriptions = new Map<string, string[]>();
  const customers = new Map<string, string[]>();
  const add = (map: Map<string, string[]>, key: string | null, id: string) => {
    if (key !== null) map.set(key, [...(map.get(key) ?? []), id]);
  };
  for (const event of events) {
    const owner = ownerOfEvent(event);
    add(subscriptions, owner.subscriptionId, event.id);
    add(customers, owner.customerId, event.id);
  }
  return { subscriptions, customers };
}

/** Why a difference is not drift: the events still queued for one of the subscriptions or customers; undefined when none. */
export function pendingReason(
  pending: PendingWork,
  subscriptionIds: ReadonlyArray<string>,
  customerIds: ReadonlyArray<string | null>,
): string | undefined {
  for (const id of subscriptionIds) {
    const events = pending.subscriptions.get(id);
    if (events) return `${events.length} event${events.length === 1 ? '' : 's'} of ${id} still queued (${listed(events)})`;
  }
  for (const id of customerIds) {
    const events = id === null ? undefined : pending.customers.get(id);
    if (events) return `${events.length} event${events.length === 1 ? '' : 's'} of customer ${id} still queued (${listed(events)})`;
  }
  return undefined;
}

function listed(ids: string[]): string {
  return ids.length > 3 ? `${ids.slice(0, 3).join(', ')}, …` : ids.join(', ');
}

/** Page size when reading the queue. */
const PAGE = 500;

/** The events still queued in `queue` (every pending state, active included), read in full. */
export async function readPendingWork(queue: Pick<EventQueue, 'getJobs'>): Promise<PendingWork> {
  const events: Array<Pick<StripeEvent, 'id' | 'data'>> = [];
  const seen = new Set<string>();
  for (const state of PENDING_STATES) {
    for (let start = 0; ; start += PAGE) {
      const page = await queue.getJobs([state], start, start + PAGE - 1, true);
      for (const job of page) {
        // Undefined when a job left between the range read and the fetch.
        if (!job?.id || seen.has(job.id) || !job.data) continue;
        seen.add(job.id);
        events.push({ id: job.id, data: (job.data as StripeEvent).data });
      }
      if (page.length < PAGE) break;
    }
  }
  return pendingWorkOf(events);
}
