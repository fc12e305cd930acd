import type { BenchProcess } from './child-process';

/** Counters read from the workers' `/metrics`, summed over the processes. */
export interface WorkerCounters {
  /** `billing_worker_failures_total{kind="retry"}`: failed attempts BullMQ retries. */
  retries: number;
  /** `billing_worker_failures_total{kind="final"}`: jobs failed for good. */
  finalFailures: number;
  /** `billing_worker_batch_events_count`: Postgres transactions run. */
  batches: number;
  /** `billing_worker_batch_events_sum`: events applied in them. */
  batchedEvents: number;
}

/** Reads each worker's metrics (the URL its ready line names); a failed scrape counts nothing. */
export async function scrapeWorkers(processes: readonly BenchProcess[]): Promise<WorkerCounters> {
  const total: WorkerCounters = { retries: 0, finalFailures: 0, batches: 0, batchedEvents: 0 };
  for (const p of processes) {
    const url = /"metrics":"([^"]+)"/.exec(p.readyLine)?.[1];
    if (!url) continue;
    let text: string;
    try {
      text = await (await fetch(url)).text();
    } catch {
      continue; // metrics are a diagnostic here; a failed scrape must not fail the bench
    }
    const sum = (pattern: RegExp) => [...text.matchAll(pattern)].reduce((n, m) => n + Number(m[1]), 0);
    total.retries += sum(/^billing_worker_failures_total\{[^}]*kind="retry"[^}]*\} (\d+)/gm);
    total.finalFailures += sum(/^billing_worker_failures_total\{[^}]*kind="final"[^}]*\} (\d+)/gm);
    total.batches += sum(/^billing_worker_batch_events_count(?:\{[^}]*\})? (\d+)/gm);
    total.batchedEvents += sum(/^billing_worker_batch_events_sum(?:\{[^}]*\})? (\d+)/gm);
  }
  return total;
}
