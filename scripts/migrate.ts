import { migrateDatabase } from '@billing/db/migrate';
import { checkQueueEnv, describePostgres, migrateQueueSchema, queueConfigFromEnv, queueEnvFields } from '@billing/queue';
import { loadEnvOrExit } from '@billing/runtime/env';

// `npm run db:migrate`: the billing tables (`drizzle/`) in DATABASE_URL, created first if missing;
// with the Postgres queue backend, also BullMQ's schema in QUEUE_DATABASE_URL (default DATABASE_URL).
// Exits non-zero with one line when Postgres is unreachable or a migration fails.
const env = loadEnvOrExit('db:migrate', queueEnvFields, process.env, checkQueueEnv);
const queue = queueConfigFromEnv(env);
try {
  const { database, created } = await migrateDatabase(env.DATABASE_URL);
  console.log(`db:migrate: ${database} is up to date${created ? ' (database created)' : ''}`);
  if (queue.backend === 'postgres') {
    const version = await migrateQueueSchema(queue.url, queue.schema);
    console.log(
      `db:migrate: the queue's schema ${queue.schema} in ${describePostgres(queue.url)} is up to date (BullMQ schema version ${version})`,
    );
  }
} catch (error) {
  console.error(`db:migrate: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
