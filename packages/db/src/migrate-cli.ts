import { envFields, loadEnvOrExit } from '@billing/runtime/env';
import { migrateDatabase } from './migrate';

// `npm run db:migrate`: exits non-zero with one line when Postgres is unreachable or a migration fails.
const env = loadEnvOrExit('db:migrate', { DATABASE_URL: envFields.DATABASE_URL });
try {
  const { database, created } = await migrateDatabase(env.DATABASE_URL);
  console.log(`db:migrate: ${database} is up to date${created ? ' (database created)' : ''}`);
} catch (error) {
  console.error(`db:migrate: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
