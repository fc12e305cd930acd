import fc from 'fast-check';
import type { StripeEvent } from '@billing/queue';

/**
 * How a history reaches the worker: in any order, with duplicates, with the events of
 * neighbouring changes collapsed into one second (Stripe stamps `created` in whole seconds), in
 * concurrent lanes (several workers or a concurrency above one), several events per batch.
 */
export interface DeliverySchedule {
  /** A permutation of the history's indices. */
  order: number[];
  /** Indices delivered a second time, and where in the order each copy goes (a fraction of the way). */
  duplicates: Array<{ index: number; at: number }>;
  /** `collapse[i]`: event `i` gets the `created` second of event `i - 1`. */
  collapse: boolean[];
  /** Concurrent deliverers. */
  lanes: number;
  /** Events per call in each lane. */
  batch: number;
}

export function deliverySchedule(length: number, options: { maxLanes?: number; maxBatch?: number } = {}): fc.Arbitrary<DeliverySchedule> {
  const indices = Array.from({ length }, (_, i) => i);
  return fc.record({
    order: fc.shuffledSubarray(indices, { minLength: length, maxLength: length }),
    duplicates: fc.array(
      fc.record({ index: fc.nat({ max: length - 1 }), at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) }),
      { maxLength: 4 },
    ),
    collapse: fc.array(fc.boolean(), { minLength: length, maxLength: length }),
    lanes: fc.integer({ min: 1, max: options.maxLanes ?? 3 }),
    batch: fc.integer({ min: 1, max: options.maxBatch ?? 4 }),
  });
}

/**
 * The history with the schedule's same-second collisions: still in Stripe's order, times never
 * decreasing. A collision is left out when it would make the subscription's status or a fact
 * return, within one second, to a value it held earlier in that second (A → B → A): no rule can
 * order such events from their payloads, and Stripe does not emit them for one change.
 */
export function withCollisions(events: readonly StripeEvent[], collapse: readonly boolean[]): StripeEvent[] {
  const result: StripeEvent[] = [];
  let before: SnapshotFields | undefined;
  let second: SnapshotFields[] = [];
  for (const [i, event] of events.entries()) {
    const previous = result[i - 1];
    const fields = snapshotFields(event);
    const joins = previous !== undefined && collapse[i] === true && (fields === undefined || !revisits(before, [...second, fields]));
    const placed = joins ? { ...event, created: previous.created } : event;
    if (previous === undefined || placed.created !== previous.created) {
      before = second.at(-1) ?? before;
      second = [];
    }
    if (fields) second.push(fields);
    result.push(placed);
  }
  return result;
}

type SnapshotFields = Record<'status' | 'periodEnd' | 'price' | 'cancelAt' | 'trialEnd', unknown>;

/** The status and facts a subscription event shows (`undefined` for other events). */
function snapshotFields(event: StripeEvent): SnapshotFields | undefined {
  if (!event.type.startsWith('customer.subscription.')) return undefined;
  const object = event.data.object as Record<string, unknown> & { items: { data: Array<Record<string, unknown>> } };
  const item = object.items.data[0] ?? {};
  const periodEnd = object.current_period_end ?? item.current_period_end;
  return {
    status: event.type === 'customer.subscription.deleted' ? 'canceled' : object.status,
    periodEnd,
    price: (item.price as { id?: unknown } | undefined)?.id,
    cancelAt: object.cancel_at ?? (object.cancel_at_period_end === true ? periodEnd : null),
    trialEnd: object.trial_end,
  };
}

function revisits(before: SnapshotFields | undefined, second: SnapshotFields[]): boolean {
  const states = before ? [before, ...second] : second;
  return (Object.keys(states[0] ?? {}) as Array<keyof SnapshotFields>).some((key) => {
    const values: unknown[] = [];
    for (const state of states) if (values.at(-1) !== state[key]) values.push(state[key]);
    return new Set(values).size !== values.length;
  });
}

/** The lanes of events each deliverer sends, in order, split into batches. */
export function deliveryLanes(events: readonly StripeEvent[], schedule: DeliverySchedule): StripeEvent[][][] {
  const sequence = schedule.order.map((i) => events[i] as StripeEvent);
  for (const { index, at } of schedule.duplicates) sequence.splice(Math.floor(at * (sequence.length + 1)), 0, events[index] as StripeEvent);
  const lanes: StripeEvent[][] = Array.from({ length: schedule.lanes }, () => []);
  for (const [i, event] of sequence.entries()) lanes[i % schedule.lanes]!.push(event);
  return lanes.map((lane) => {
    const batches: StripeEvent[][] = [];
    for (let i = 0; i < lane.length; i += schedule.batch) batches.push(lane.slice(i, i + schedule.batch));
    return batches;
  });
}
