/**
 * The slow-client probe of the security issue, against a real ingress process:
 * `connections` slow bodies (1 MiB announced, all but 64 bytes sent, then one byte every 5 s)
 * and as many slow headers, each for `seconds`, while valid signed deliveries keep arriving.
 * Prints the ingress RSS before/peak/after, how many slow connections the server closed, and
 * the valid deliveries' answers. `npm run bench -- --only slow-clients`.
 *
 * BENCH_SLOW_CONNECTIONS (default 200), BENCH_SLOW_SECONDS (default 30).
 */
import { event, invoiceObject, signatureHeader, stripeId } from '@billing/stripe-simulator/events';
import { openSlowBodies, openSlowHeaders, type SlowClients } from '@billing/testing/slow-clients';
import { startIngress } from '../harness/app-processes';
import { round } from '../report/round';
import { readMemory } from '../harness/memory';
import { settings, WEBHOOK_PATH, WEBHOOK_SECRET } from '../settings';
import { openBenchQueue } from '../harness/worker-queue';

export interface SlowClientFigures {
  kind: 'bodies' | 'headers';
  connections: number;
  seconds: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
  rssEndMiB: number;
  /** Slow connections the server had closed when the window ended. */
  closedByServer: number;
  valid: { sent: number; ok: number; other: number; p99Ms: number; maxMs: number };
}

export async function probeSlowClients(queueName: string, log: (line: string) => void): Promise<SlowClientFigures[]> {
  const { connections, seconds } = settings.slowClients;
  const queue = openBenchQueue(queueName);
  const { process: ingress, port } = await startIngress(queueName, { LOG_LEVEL: 'info' });
  const figures: SlowClientFigures[] = [];
  try {
    for (const kind of ['bodies', 'headers'] as const) {
      log(`  slow ${kind}: ${connections} connections for ${seconds} s`);
      const before = readMemory(ingress.pid)?.rssMiB ?? NaN;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, readMemory(ingress.pid)?.rssMiB ?? 0)), 100);
      const open = kind === 'bodies' ? openSlowBodies : openSlowHeaders;
      const slow: SlowClients = await open({ port, connections });
      const latencies: number[] = [];
      let ok = 0;
      let other = 0;
      const deadline = Date.now() + seconds * 1000;
      while (Date.now() < deadline) {
        const body = JSON.stringify(event('invoice.paid', invoiceObject({ subscription: stripeId('sub'), customer: stripeId('cus') })));
        const started = performance.now();
        try {
          const res = await fetch(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'stripe-signature': signatureHeader(body, WEBHOOK_SECRET) },
            body,
            signal: AbortSignal.timeout(10_000),
          });
          await res.arrayBuffer();
          if (res.status === 200) ok += 1;
          else other += 1;
        } catch {
          other += 1;
        }
        latencies.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const closedByServer = slow.closed();
      slow.stop();
      clearInterval(sampler);
      latencies.sort((a, b) => a - b);
      const result: SlowClientFigures = {
        kind,
        connections,
        seconds,
        rssBeforeMiB: round(before),
        rssPeakMiB: round(peak),
        rssEndMiB: round(readMemory(ingress.pid)?.rssMiB ?? NaN),
        closedByServer,
        valid: {
          sent: latencies.length,
          ok,
          other,
          p99Ms: round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? NaN),
          maxMs: round(latencies.at(-1) ?? NaN),
        },
      };
      log(`  ${JSON.stringify(result)}`);
      figures.push(result);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  } finally {
    await ingress.stop();
    await queue.drop();
  }
  return figures;
}
