import { describeEachBackend } from '@billing/testing/test-queue';
import { afterAll, expect, it } from 'vitest';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import pLimit from 'p-limit';
import { figureLine, measureFigures } from '@billing/testing/faults/figures';
import { deadApp, startIngress, startWorker } from '@billing/testing/faults/fleet';
import { deliver, type Delivery } from '@billing/testing/faults/http-client';
import { openScenario } from '@billing/testing/faults/scenario';
import { faultSeed, seededRandom, shuffled } from '@billing/testing/seeded-random';
import { ledgerCount, waitForSettled } from '@billing/testing/faults/settle';
import {
  differencesFromStripe,
  eventsOf,
  historiesTotalling,
  subscriptionCount,
  subscriptionRowCounts,
} from '@billing/testing/faults/subscriptions';

const EVENTS = 200;
const COPIES = 5;
/** Deliveries in flight at once: copies of one event often overlap, as Stripe's retries and resends can. */
const IN_FLIGHT = 50;

describeEachBackend('fault: duplicate storm (every event delivered 5 times, concurrently, in random order)', (backend) => {
  const cleanup = createCleanupStack();
  afterAll(() => cleanup.runAll(), 60_000);

  it('one ledger row per event; every row equals Stripe’s final object', async () => {
    const seed = faultSeed();
    const random = seededRandom(seed);
    const s = await openScenario(`duplicate_storm_${backend}`, { backend, cleanup });
    const histories = await historiesTotalling(s.db.sql, EVENTS);
    const events = eventsOf(histories);
    const [ingress, worker] = await Promise.all([
      startIngress(cleanup, { queue: s.queueConfig, queueName: s.queueName, secret: s.secret }),
      startWorker(cleanup, { databaseUrl: s.db.url, queue: s.queueConfig, queueName: s.queueName }),
    ]);

    // 1. 1,000 deliveries in a seeded random order, 50 in flight, while the worker applies them.
    const storm = shuffled(
      events.flatMap((event) => Array.from({ length: COPIES }, () => event)),
      random,
    );
    const deliveries: Delivery[] = await pLimit(IN_FLIGHT).map(storm, (event) => deliver(ingress.port, event, s.secret));

    const acknowledged = [...new Set(deliveries.filter((d) => d.status === 200).map((d) => d.eventId))];
    const settle = await waitForSettled(s.db.sql, s.queue, acknowledged, 60_000, () => deadApp([worker, ingress.app]));
    const figures = await measureFigures(s.db.sql, { sent: events.map((e) => e.id), acknowledged, workers: [worker] });
    const rows = await subscriptionRowCounts(s.db.sql);
    const counts = await s.queue.getJobCounts('completed', 'failed');

    // Copies of one event that were in flight at the same moment (measured, not assumed).
    const byEvent = new Map<string, Delivery[]>();
    for (const d of deliveries) byEvent.set(d.eventId, [...(byEvent.get(d.eventId) ?? []), d]);
    const groups = [...byEvent.values()];
    const overlapping = groups.filter((copies) =>
      copies.some((a, i) => copies.some((b, j) => i !== j && a.startedAt < b.endedAt && b.startedAt < a.endedAt)),
    ).length;
    const answeredDuplicate = deliveries.filter((d) => d.duplicate).length;
    // docs/design.md: a delivery of an id already queued answers `duplicate: true`. A copy sent after
    // another copy was acknowledged must say so; every event has one copy that really added it.
    const missedDuplicates = groups.flatMap((copies) =>
      copies.filter((d) => !d.duplicate && copies.some((e) => e !== d && e.status === 200 && e.endedAt < d.startedAt)),
    );
    const neverAdded = groups.filter((copies) => copies.every((d) => d.duplicate));
    console.log(
      figureLine(`duplicate storm [${backend}]`, figures, {
        seed,
        deliveries: deliveries.length,
        answered_duplicate: answeredDuplicate,
        events_with_concurrent_copies: overlapping,
        settled_ms: settle.ms,
        outcomes: figures.outcomes,
        jobs: counts,
      }),
    );

    expect(deliveries.filter((d) => d.status !== 200)).toEqual([]);
    expect(overlapping).toBeGreaterThan(0);
    expect(missedDuplicates.map((d) => d.eventId)).toEqual([]);
    expect(neverAdded).toEqual([]);
    expect(settle.stopped).toBeUndefined();
    expect(settle.settled).toBe(true);
    expect(figures).toMatchObject({ sent: events.length, acknowledged: events.length, applied: events.length, appliedTwice: 0, lost: 0 });
    expect(await ledgerCount(s.db.sql)).toBe(events.length);
    expect(counts).toMatchObject({ completed: events.length, failed: 0 });
    expect(rows).toEqual({ rows: subscriptionCount(histories), distinct: subscriptionCount(histories) });
    expect(await differencesFromStripe(s.db.sql, histories)).toEqual([]);
  }, 150_000);
});
