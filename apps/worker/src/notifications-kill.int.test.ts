import { afterAll, beforeAll, expect, it } from 'vitest';
import { users } from '@billing/db/schema';
import {
  enqueueEvent,
  notificationQueueName,
  openEventQueue,
  openNotificationQueue,
  openQueueStore,
  type EventQueue,
  type QueueStore,
} from '@billing/queue';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { signedJob } from '@billing/testing/job-signing';
import { startApp, type AppProcess } from '@billing/testing/processes';
import { queueEnvOf, testQueueConfig, uniqueQueueName } from '@billing/testing/test-queue';
import { waitFor } from '@billing/testing/wait-for';
import { lifecycle, type StripeEvent } from '@billing/stripe-simulator/events';
import { checkDeliveries, outboxRowsOf } from '../test-support/delivery-check';
import { startNotificationHost, type NotificationHost } from '../test-support/notification-host';

/**
 * A real worker process SIGKILLed while it applies events and delivers their rows (some committed
 * without their job, some jobs active), then a new one: every row reaches the host, in per-subject
 * order. Postgres queue (the one every setup has).
 */

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
let t: TestDatabase;
let host: NotificationHost;
let store: QueueStore;
let queue: EventQueue;
const queueName = uniqueQueueName('notify-kill');
const running: AppProcess[] = [];
let env: Record<string, string>;

beforeAll(async () => {
  t = await createTestDatabase('notify_kill');
  host = await startNotificationHost();
  const config = await testQueueConfig('postgres', t.url);
  store = openQueueStore(config, { role: 'producer' });
  queue = openEventQueue(store, queueName);
  env = {
    ...queueEnvOf(config),
    QUEUE_NAME: queueName,
    DATABASE_URL: t.url,
    WORKER_METRICS_PORT: '0',
    WORKER_LOCK_DURATION_MS: '2000',
    NOTIFY_URL: host.url,
    NOTIFY_SECRET: SECRET,
  };
});
afterAll(async () => {
  for (const app of running) await app.stop('SIGKILL').catch(() => {});
  const notifications = openNotificationQueue(store, notificationQueueName(queueName));
  await notifications.obliterate({ force: true }).catch(() => {});
  await notifications.close();
  await queue?.obliterate({ force: true }).catch(() => {});
  await queue?.close();
  await store?.close();
  await host?.close();
  await t?.drop();
});

it('a worker SIGKILLed mid-delivery, then a new one: every row delivered, none lost, per-subject order', async () => {
  const events: StripeEvent[] = [];
  for (let i = 0; i < 6; i += 1) {
    const email = `kill-${i}@example.com`;
    const [user] = await t.db.insert(users).values({ email }).returning();
    events.push(...lifecycle({ email, userId: user!.id, subscriptionId: `sub_kill${i}`, customerId: `cus_kill${i}` }));
  }
  const first = await startApp('worker', env, /"msg":"worker ready"/);
  running.push(first);
  for (const e of events) await enqueueEvent(store, queue, signedJob(e));
  await waitFor(() => host.received.length >= 3, 'the first deliveries');
  await first.stop('SIGKILL');
  const before = (await outboxRowsOf(t.sql, 'kill')).filter((row) => row.delivered_at === null).length;

  const second = await startApp('worker', env, /"msg":"worker ready"/);
  running.push(second);
  await waitFor(
    async () => {
      const rows = await outboxRowsOf(t.sql, 'kill');
      const applied = (await t.sql`select count(*)::int as n from webhook_events`)[0]!.n as number;
      return applied === events.length && rows.length > 0 && rows.every((row) => row.delivered_at !== null);
    },
    'every event applied and every row delivered',
    60_000,
  );
  const figures = await checkDeliveries(t.sql, 'kill', host, SECRET);
  console.info('SIGKILL: undelivered at the kill', before);
  expect(before).toBeGreaterThan(0);
  expect(figures).toMatchObject({ delivered: figures.rows, lost: 0 });
  await second.stop('SIGTERM');
}, 120_000);
