import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['apps/*/src/**/*.test.ts', 'packages/*/src/**/*.test.ts', 'tests/**/*.test.ts'],
    globalSetup: ['packages/testing/src/global-setup.ts'],
    // Real Postgres, Redis and child processes: generous per-test bounds, never used as speed checks.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
