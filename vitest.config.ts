import { defineConfig } from 'vitest/config';

const everywhere = ['apps/*/src/**/', 'packages/*/src/**/', 'tests/**/'];

/**
 * Two projects. `unit`: pure tests (`*.test.ts`) — no global setup, no service, `npm run test:unit`.
 * `integration`: tests that need Postgres, Redis or child processes (`*.int.test.ts`); the global
 * setup finds the services once and hands their URLs to every file. `npm test` runs both.
 */
export default defineConfig({
  test: {
    pool: 'forks',
    reporters: ['default'],
    teardownTimeout: 30_000,
    projects: [
      {
        test: {
          name: 'unit',
          include: everywhere.map((dir) => `${dir}*.test.ts`),
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
          testTimeout: 20_000,
          // Projects with their own maxWorkers run one after the other: the pure tests first.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: everywhere.map((dir) => `${dir}*.int.test.ts`),
          globalSetup: ['packages/testing/src/global-setup.ts'],
          // Most of these files wait on databases and child processes, not on the CPU: three at a
          // time on two cores (vitest's default would be one).
          maxWorkers: 3,
          sequence: { groupOrder: 1 },
          // Real Postgres, Redis and child processes: generous per-test bounds, never used as speed checks.
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
