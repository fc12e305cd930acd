import { benchBackend } from '../harness/queue-backend';
import { round } from '../report/round';
import { settings, type QueueBackendName } from '../settings';
import type { Run } from './phases';
import { drainOnce, startWorkers, type DrainResult } from './worker-throughput';

/** Does a backend's drain rate fall with the size of what it drains, or with the jobs it has completed? */
export interface QueueLengthResult {
  backend: QueueBackendName;
  /** One fresh queue and worker per size (each after the same warm-up). */
  bySize: DrainResult[];
  /** One worker and queue: a small drain, a large one, then the small one again, on top of the completed jobs kept. */
  sameQueue: { before: DrainResult; large: DrainResult; after: DrainResult; completedKeptBefore: number; completedKeptAfter: number };
  /** `after` ÷ `before` events/s: below 1 when the completed jobs kept slow the queue down. */
  afterToBefore: number;
}

/**
 * Issue 20's burst slowdown on the Postgres backend: drains of several sizes on fresh queues, and
 * on one queue the same small drain before and after a large one (whose jobs stay as completed:
 * `removeOnComplete` keeps 4 days). A rate that falls within a drain shows in its fifths.
 */
export async function benchQueueLength(run: Run, log: (line: string) => void): Promise<QueueLengthResult[]> {
  const { worker: w, backends: b } = settings;
  const sizes = b.queueLengths;
  const small = Math.min(...sizes);
  const large = Math.max(...sizes);
  const results: QueueLengthResult[] = [];
  for (const name of b.names) {
    const backend = benchBackend(name, run.db.url);
    const bySize: DrainResult[] = [];
    for (const size of sizes) {
      log(`  ${name}: fresh queue, warm-up ${w.warmupEvents}, then ${size} events`);
      const d = await drainOnce(run.db, run.queue(`len-${name}-${size}`), run.mix(size), 1, w.defaultConcurrency, run.mix(w.warmupEvents), {
        backend,
      });
      log(`    ${d.eventsPerSec}/s; by fifth: ${d.fifths.join(', ')}`);
      bySize.push(d);
    }
    log(`  ${name}: one queue: ${small}, then ${large}, then ${small} again`);
    const fleet = await startWorkers(run.db, run.queue(`same-${name}`), 1, w.defaultConcurrency, { backend });
    try {
      await fleet.drain(run.mix(w.warmupEvents));
      const completedKeptBefore = (await fleet.queue.counts()).completed ?? 0;
      const before = await fleet.drain(run.mix(small));
      const largeDrain = await fleet.drain(run.mix(large));
      const completedKeptAfter = (await fleet.queue.counts()).completed ?? 0;
      const after = await fleet.drain(run.mix(small));
      log(
        `    before ${before.eventsPerSec}/s, large ${largeDrain.eventsPerSec}/s, after ${after.eventsPerSec}/s (${completedKeptAfter} completed jobs kept)`,
      );
      results.push({
        backend: name,
        bySize,
        sameQueue: { before, large: largeDrain, after, completedKeptBefore, completedKeptAfter },
        afterToBefore: round(after.eventsPerSec / before.eventsPerSec, 3),
      });
    } finally {
      await fleet.stop();
    }
  }
  return results;
}
