import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyNotification, type BillingNotification } from '@billing/client';
import type { Sql } from '@billing/db/client';
import { openQueueStore, type QueueConfig } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { createWorkerMetrics } from '@billing/worker/metrics';
import { startNotifications } from '@billing/worker/notifications';

export interface DemoHost {
  url: string;
  /** Verified notifications, in the order they arrived. */
  received: BillingNotification[];
  /** Requests refused (bad signature). */
  refused: number;
  close: () => Promise<void>;
}

/** A sample host application: verifies each notification with @billing/client, keeps it, answers 204. */
export async function startDemoHost(secret: string): Promise<DemoHost> {
  const host: DemoHost = { url: '', received: [], refused: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const notification = verifyNotification(Buffer.concat(chunks), req.headers, secret);
        if (!host.received.some((n) => n.id === notification.id)) host.received.push(notification); // at least once: dedupe on id
        res.writeHead(204).end();
      } catch {
        host.refused += 1;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/billing/notifications`;
  host.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return host;
}

/**
 * The worker's delivery side (relay and sender) pointed at a sample host the demo starts, on the
 * queue `npm start` runs: whatever worker applied the events, their outbox rows reach the host.
 */
export async function startDemoNotifications(options: { queue: QueueConfig; queueName: string; databaseUrl: string }) {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const host = await startDemoHost(secret);
  const store = openQueueStore(options.queue, { role: 'consumer', applicationName: 'billing-webhooks-demo' });
  const notifications = startNotifications({
    store,
    queueName: options.queueName,
    databaseUrl: options.databaseUrl,
    notify: { url: host.url, secret },
    relayScanIntervalMs: 500,
    relayScanAfterMs: 0,
    logger: createLogger('demo-notifications', 'silent'),
    metrics: createWorkerMetrics(createRegistry('demo')),
  });
  try {
    await notifications.waitUntilReady();
  } catch (error) {
    // Nothing left open: the demo goes on without notifications.
    await notifications.close().catch(() => {});
    await store.close().catch(() => {});
    await host.close();
    throw error;
  }
  return {
    host,
    /** Waits until every outbox row of these subjects is delivered (or `timeoutMs` passed); resolves with how many are not. */
    async settle(sql: Sql, subjects: string[], timeoutMs: number): Promise<number> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [row] = await sql<{ left: number }[]>`
          select count(*)::int as left from billing_outbox where subject = any(${subjects}) and delivered_at is null`;
        if (row!.left === 0 || Date.now() > deadline) return row!.left;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
    close: async () => {
      await notifications.close();
      await store.close();
      await host.close();
    },
  };
}

/** One line per notification: id, subject and sequence, type, and what changed. */
export function formatNotification(n: BillingNotification): string {
  const changes = Object.entries(n.data.changes)
    .map(([field, [from, to]]) => `${field} ${JSON.stringify(from)} → ${JSON.stringify(to)}`)
    .join(', ');
  return `  #${String(n.id).padEnd(5)} ${`${n.subject} #${n.sequence}`.padEnd(32)} ${n.type.padEnd(38)} ${changes}`;
}
