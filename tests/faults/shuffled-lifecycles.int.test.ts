import { describeEachBackend } from '@billing/testing/test-queue';
import { afterAll, expect, it } from 'vitest';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import { figureLine, measureFigures } from '@billing/testing/faults/figures';
import { deadApp, startIngress, startWorker } from '@billing/testing/faults/fleet';
import { deliver, type Delivery } from '@billing/testing/faults/http-client';
import { openScenario } from '@billing/testing/faults/scenario';
import { faultSeed, seededRandom, shuffled } from '@billing/testing/seeded-random';
import { waitForSettled } from '@billing/testing/faults/settle';
import { differencesFromStripe, eventsOf, historiesTotalling, transitionsOutOfTerminal } from '@billing/testing/faults/subscriptions';

const EVENTS = 300;

describeEachBackend('fault: real-shaped histories delivered in one random global order', (backend) => {
  const cleanup = createCleanupStack();
  afterAll(() => cleanup.runAll(), 60_000);

  it('ends every subscription as Stripe’s final object; nothing leaves a terminal status', async () => {
    // Replay a failing run with FAULT_SEED=<seed printed below>. The worker runs one job at a
    // time, so the seed fixes the exact order in which events are applied, not just sent.
    const seed = faultSeed();
    const s = await openScenario(`shuffled_lifecycles_${backend}`, { backend, cleanup });
    const histories = await historiesTotalling(s.db.sql, EVENTS);
    const order = shuffled(eventsOf(histories), seededRandom(seed));
    const [ingress, worker] = await Promise.all([
      startIngress(cleanup, { queue: s.queueConfig, queueName: s.queueName, secret: s.secret }),
      startWorker(cleanup, { databaseUrl: s.db.url, queue: s.queueConfig, queueName: s.queueName, concurrency: 1 }),
    ]);

    // Sequential delivery: the queue is FIFO, so enqueue order = application order.
    const deliveries: Delivery[] = [];
    for (const event of order) deliveries.push(await deliver(ingress.port, event, s.secret));

    const acknowledged = deliveries.filter((d) => d.status === 200).map((d) => d.eventId);
    const settle = await waitForSettled(s.db.sql, s.queue, acknowledged, 60_000, () => deadApp([worker, ingress.app]));
    const figures = await measureFigures(s.db.sql, { sent: order.map((e) => e.id), acknowledged, workers: [worker] });
    const outOfTerminal = await transitionsOutOfTerminal(s.db.sql);
    const differences = await differencesFromStripe(s.db.sql, histories);
    const statuses = await s.db.sql<
      Array<{ status: string; n: number }>
    >`select status, count(*)::int as n from subscriptions group by status order by status`;
    console.log(
      figureLine(`shuffled histories [${backend}]`, figures, {
        seed,
        histories: histories.length,
        final_statuses: Object.fromEntries(statuses.map((r) => [r.status, r.n])),
        differing_from_stripe: differences.length,
        transitions_out_of_terminal: outOfTerminal,
        settled_ms: settle.ms,
        outcomes: figures.outcomes,
      }),
    );

    expect(deliveries.filter((d) => d.status !== 200)).toEqual([]);
    expect(settle.stopped).toBeUndefined();
    expect(settle.settled).toBe(true);
    expect(figures).toMatchObject({ sent: order.length, acknowledged: order.length, applied: order.length, appliedTwice: 0, lost: 0 });
    expect(differences).toEqual([]);
    expect(outOfTerminal).toBe(0);
  }, 120_000);
});
