import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A steady stream: starts `task` for one item every `intervalMs` (as webhooks arrive, whatever
 * the answers take), never more than `maxInFlight` at once; results in input order.
 */
export async function paced<T, R>(
  items: readonly T[],
  options: { intervalMs: number; maxInFlight: number },
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const inFlight = new Set<Promise<void>>();
  for (const [index, item] of items.entries()) {
    while (inFlight.size >= options.maxInFlight) await Promise.race(inFlight);
    const run: Promise<void> = task(item, index).then((result) => {
      results[index] = result;
      inFlight.delete(run);
    });
    inFlight.add(run);
    await sleep(options.intervalMs);
  }
  await Promise.all(inFlight);
  return results;
}
