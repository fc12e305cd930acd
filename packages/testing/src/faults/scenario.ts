import { randomBytes } from 'node:crypto';
import { createEventQueue, producerConnection, type EventQueue, type RedisConfig } from '@billing/queue';
import { createTestDatabase, uniqueQueueName, type TestDatabase } from '@billing/testing/database';
import type { CleanupStack } from './cleanup-stack';

/** What every fault scenario has of its own: a database, a queue name, a signing secret, and the undo steps. */
export interface ScenarioBase {
  cleanup: CleanupStack;
  db: TestDatabase;
  queueName: string;
  secret: string;
  /** The scenario's queue on a fail-fast connection of the test's own, to read job states. */
  queue: EventQueue;
}

/**
 * Opens the scenario's own database and queue. On failure part-way, whatever was opened is
 * already on `cleanup`, which the caller runs in `afterAll` either way.
 */
export async function openScenario(
  label: string,
  options: { redisUrl: string; cleanup: CleanupStack; redis?: RedisConfig; prefix?: string },
): Promise<ScenarioBase> {
  const { cleanup } = options;
  const db = await createTestDatabase(`fault_${label}`);
  cleanup.defer(`drop database ${db.name}`, () => db.drop());
  const queueName = uniqueQueueName(`fault-${label}`);
  const connection = producerConnection(options.redis ?? { url: options.redisUrl }, { timeoutMs: 5_000 });
  connection.on('error', () => {}); // outages are the point of some scenarios
  const queue = createEventQueue(connection, { name: queueName, prefix: options.prefix });
  queue.on('error', () => {});
  cleanup.defer(`close queue ${queueName}`, async () => {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close().catch(() => {});
    connection.disconnect();
  });
  await queue.waitUntilReady();
  return { cleanup, db, queueName, secret: `whsec_fault_${randomBytes(18).toString('base64url')}`, queue };
}
