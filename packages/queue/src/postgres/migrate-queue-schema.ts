import { runMigrations } from 'bullmq';
import pg from 'pg';

/**
 * Creates or upgrades BullMQ's PostgreSQL schema in `url`'s database (idempotent; concurrent runs
 * take turns on BullMQ's advisory lock). `npm run db:migrate` runs it when the queue is on Postgres;
 * the apps never migrate on their own. Resolves with the schema version.
 */
export async function migrateQueueSchema(url: string, schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: url, application_name: 'billing-webhooks-migrate' });
  await client.connect();
  try {
    return await runMigrations(client, schema);
  } finally {
    await client.end();
  }
}
