import { sql } from 'drizzle-orm';
import type { Database } from '@billing/db/client';
import type { Logger } from '@billing/runtime/logger';

/**
 * Waits until Postgres answers before consuming jobs, so a cold start during a database outage
 * does not burn the jobs' attempts; exits when the schema is missing (a deploy that skipped migrate).
 */
export async function waitForDatabase(db: Database, logger: Logger): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const rows = await db.execute<{ ok: boolean }>(sql`select to_regclass('public.webhook_events') is not null as ok`);
      if (!rows[0]?.ok) {
        logger.fatal('the database has no webhook_events table: run `npm run db:migrate` first');
        process.exit(1);
      }
      return;
    } catch (error) {
      if (attempt === 1 || attempt % 10 === 0) logger.warn({ err: error, attempt }, 'waiting for Postgres');
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2_000)));
    }
  }
}
