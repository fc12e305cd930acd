import { defineConfig } from 'drizzle-kit';

// Generated SQL lives in the top-level drizzle/ folder and is committed.
export default defineConfig({
  dialect: 'postgresql',
  schema: './packages/db/src/schema.ts',
  out: './drizzle',
  strict: true,
  verbose: true,
});
