import { randomBytes } from 'node:crypto';
import { openEventQueue, openQueueStore, type EventQueue, type QueueConfig, type QueueStore } from '@billing/queue';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { testQueueConfig, uniqueQueueName, type QueueBackend } from '@billing/testing/test-queue';
import type { CleanupStack } from './cleanup-stack';

/** What every fault scenario has of its own: a database, a queue name, a signing secret, and the undo steps. */
export interface ScenarioBase {
  cleanup: CleanupStack;
  db: TestDatabase;
  /** Where the scenario's queue lives: pass it to the apps (`startIngress`, `startWorker`). */
  queueConfig: QueueConfig;
  queueName: string;
  secret: string;
  /** The scenario's queue on a fail-fast store of the test's own, to read job states. */
  queue: EventQueue;
  store: QueueStore;
}

/**
 * Opens the scenario's own database and queue. On failure part-way, whatever was opened is
 * already on `cleanup`, which the caller runs in `afterAll` either way.
 */
export async function openScenario(
  label: string,
  options: { backend: QueueBackend; cleanup: CleanupStack; queue?: QueueConfig },
): Promise<ScenarioBase> {
  const { cleanup } = options;
  const db = await createTestDatabase(`fault_${label}`);
  cleanup.defer(`drop database ${db.name}`, () => db.drop());
  const queueName = uniqueQueueName(`fault-${label}`);
  const queueConfig = options.queue ?? (await testQueueConfig(options.backend, db.url));
  const store = openQueueStore(queueConfig, { role: 'producer', timeoutMs: 5_000 });
  store.onAvailability(() => {}); // outages are the point of some scenarios
  const queue = openEventQueue(store, queueName);
  queue.on('error', () => {});
  cleanup.defer(`close queue ${queueName}`, async () => {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close().catch(() => {});
    await store.close().catch(() => {});
  });
  await queue.waitUntilReady();
  return { cleanup, db, queueConfig, queueName, secret: `whsec_fault_${randomBytes(18).toString('base64url')}`, queue, store };
}
