import { existsSync } from 'node:fs';
import { postgresProblem } from '@billing/db/postgres-probe';
import { describe, expect, inject, it } from 'vitest';
import type {} from './provided-context';
import { resolveTestServices } from './services';

// Where nothing answers: ports nobody listens on, and no Docker engine.
const NOWHERE = {
  localPostgres: 'postgres://postgres@127.0.0.1:1/postgres',
  localRedis: 'redis://127.0.0.1:1',
  dockerReachable: async () => false,
};

describe('resolveTestServices where nothing is installed', () => {
  it('falls back to an embedded Postgres in a temporary directory (gone after stop) and to no Redis, saying so', async () => {
    const services = await resolveTestServices({}, NOWHERE);
    try {
      expect(services.redisUrl).toBe('');
      expect(services.describe).toMatch(
        /^Postgres embedded \(none at postgres:\/\/postgres@127\.0\.0\.1:1\/postgres, no Docker engine, TEST_DATABASE_URL unset\): 16 in /,
      );
      expect(services.describe).toMatch(
        /; no Redis \(none at redis:\/\/127\.0\.0\.1:1, no Docker engine, TEST_REDIS_URL unset\): the tests that need Redis skip$/,
      );
      expect(await postgresProblem(services.adminDatabaseUrl)).toBeUndefined();
    } finally {
      await services.stop();
    }
    const home = / in (\S+), port /.exec(services.describe)![1]!;
    expect(existsSync(home)).toBe(false);
    expect(await postgresProblem(services.adminDatabaseUrl, 1)).toMatch(/ECONNREFUSED/);
  });

  it('takes the local default over the embedded one when it answers', async () => {
    // The suite's own Postgres stands for "the local default": it answers wherever the suite runs
    // (127.0.0.1:5432 on the team machines, an embedded one on a bare machine).
    const local = inject('adminDatabaseUrl');
    const services = await resolveTestServices({}, { ...NOWHERE, localPostgres: local });
    await services.stop();
    expect(services.adminDatabaseUrl).toBe(local);
    expect(services.describe).toMatch(/^Postgres at /);
  });

  it('stops at a TEST_DATABASE_URL that does not answer, naming the variable, rather than fall back', async () => {
    await expect(resolveTestServices({ TEST_DATABASE_URL: 'postgres://postgres:secret@127.0.0.1:1/postgres' }, NOWHERE)).rejects.toThrow(
      'Postgres does not answer at postgres://postgres:***@127.0.0.1:1/postgres (from TEST_DATABASE_URL). Start it, or unset the variable.',
    );
  });
});
