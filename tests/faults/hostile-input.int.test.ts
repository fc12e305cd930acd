import { queueBackends } from '@billing/testing/test-queue';
import { afterAll, describe, expect, it } from 'vitest';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import pLimit from 'p-limit';
import { figureLine } from '@billing/testing/faults/figures';
import { isAlive, residentKiB, startIngress } from '@billing/testing/faults/fleet';
import { hostileCases, type HostileCase } from './support/hostile-requests';
import { httpRequest, type HttpAnswer } from '@billing/testing/faults/http-client';
import { openScenario } from '@billing/testing/faults/scenario';
import { faultSeed, seededRandom } from '@billing/testing/seeded-random';

/**
 * Node 24's V8 keeps growing its heap through the first ~2,000 of these requests before it settles:
 * RSS floors per round of 1,000 measured 273, 324, 326, 296, 311, 342, 342, 345 MiB (a plateau, not
 * a leak). The warm-up covers that, so the rounds compare the settled process.
 */
const WARM_UP = 2_000;
const ROUNDS = 3;
const PER_ROUND = 1_000;
const IN_FLIGHT = 8;
/**
 * RSS (VmRSS) is sampled every 50 ms. Parsing near-1 MiB bodies (deeply nested JSON makes
 * hundreds of thousands of arrays) swings it by up to ~150 MiB between collections, so each
 * round is summarised by its floor, the lowest sample (what is left after the collector ran):
 * the last round's floor may exceed the first measured round's by at most this much. Measured
 * here over 13,000 requests: floors wander within ±50 MiB with no trend.
 */
const FLOOR_GROWTH_LIMIT_KIB = 64 * 1024;
/** And no sample at all above this (a runaway, even if it later came back down). */
const PEAK_LIMIT_KIB = 768 * 1024;

/** One measured round's RSS samples, in KiB. */
interface RssRound {
  floor: number;
  median: number;
  peak: number;
}

/**
 * Every request here is refused before the queue is touched, so the queue's backend changes nothing
 * the scenario measures: it runs on the first backend of the run (Redis when there is one).
 */
const backend = queueBackends()[0]!;

describe(`fault: hostile input at the ingress [${backend} queue]`, () => {
  const cleanup = createCleanupStack();
  afterAll(() => cleanup.runAll(), 60_000);
  const warmUp = WARM_UP;
  const perRound = PER_ROUND;

  it(`answers only 4xx to ${warmUp + ROUNDS * perRound} requests, enqueues nothing, stays up with a steady RSS`, async () => {
    const seed = faultSeed();
    const random = seededRandom(seed);
    const s = await openScenario(`hostile_input_${backend}`, { backend, cleanup });
    const ingress = await startIngress(cleanup, { queue: s.queueConfig, queueName: s.queueName, secret: s.secret });
    const pid = ingress.app.child.pid as number;
    const cases = hostileCases(random, s.secret);
    const answers: Array<{ kind: string; answer: HttpAnswer; mayCloseEarly: boolean }> = [];

    const send = async (count: number) => {
      // Every case in turn (so each gets its share), each instance freshly randomised.
      const batch: HostileCase[] = Array.from({ length: count }, (_, i) => (cases[i % cases.length] as () => HostileCase)());
      await pLimit(IN_FLIGHT).map(batch, async ({ kind, request, mayCloseEarly = false }) => {
        answers.push({ kind, mayCloseEarly, answer: await httpRequest({ port: ingress.port, ...request }) });
      });
    };

    const measure = async (count: number): Promise<RssRound> => {
      const samples = [residentKiB(pid)];
      const sampler = setInterval(() => samples.push(residentKiB(pid)), 50);
      try {
        await send(count);
      } finally {
        clearInterval(sampler);
      }
      samples.push(residentKiB(pid));
      const sorted = [...samples].sort((a, b) => a - b);
      return { floor: sorted[0] as number, median: sorted[Math.floor(sorted.length / 2)] as number, peak: sorted.at(-1) as number };
    };
    await send(warmUp);
    const rounds: RssRound[] = [];
    for (let round = 0; round < ROUNDS; round += 1) rounds.push(await measure(perRound));
    const first = rounds[0] as RssRound;
    const last = rounds.at(-1) as RssRound;

    const health = await httpRequest({ port: ingress.port, method: 'GET', path: '/healthz' });
    const counts = await s.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
    const enqueued = Object.values(counts).reduce((sum, n) => sum + n, 0);
    const byStatus: Record<string, number> = {};
    for (const { answer } of answers) byStatus[answer.status] = (byStatus[answer.status] ?? 0) + 1;
    const closedEarly = answers.filter(
      ({ answer, mayCloseEarly }) => mayCloseEarly && answer.status === 0 && /^(EPIPE|ECONNRESET)$/.test(answer.error ?? ''),
    );
    const notRefused = answers.filter((a) => !closedEarly.includes(a) && (a.answer.status < 400 || a.answer.status >= 500));
    const slowest = Math.round(Math.max(...answers.map(({ answer }) => answer.endedAt - answer.startedAt)));
    console.log(
      figureLine(
        `hostile input [${backend}]`,
        {
          sent: answers.length,
          acknowledged: answers.filter(({ answer }) => answer.status === 200).length,
          applied: enqueued,
          appliedTwice: 0,
          lost: 0,
        },
        {
          seed,
          kinds: cases.length,
          statuses: byStatus,
          oversized_closed_before_answer: closedEarly.length,
          rss_kib_per_round: rounds,
          rss_floor_growth_kib: last.floor - first.floor,
          slowest_answer_ms: slowest,
          alive: isAlive(ingress.app),
        },
      ),
    );

    // A summary per kind that was not refused with a 4xx, to name the culprit on failure.
    const offenders = [...new Set(notRefused.map(({ kind, answer }) => `${kind} → ${answer.status || answer.error}`))];
    expect(offenders).toEqual([]);
    expect(isAlive(ingress.app)).toBe(true);
    expect(health.status).toBe(200);
    expect(enqueued).toBe(0);
    expect(last.floor - first.floor).toBeLessThan(FLOOR_GROWTH_LIMIT_KIB);
    expect(Math.max(...rounds.map((r) => r.peak))).toBeLessThan(PEAK_LIMIT_KIB);
    expect(ingress.app.output()).not.toMatch(/"level":(50|60)/); // no error or fatal logged
  }, 180_000);
});
