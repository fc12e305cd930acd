import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { uniqueQueueName } from '@billing/testing/test-queue';
import { runScript, startApp } from '@billing/testing/processes';
import { dropQueue } from '@billing/testing/queues';

let t: TestDatabase;
const queueName = uniqueQueueName('srv');
beforeAll(async () => {
  t = await createTestDatabase('worker_server');
});
afterAll(async () => {
  await dropQueue(inject('redisUrl'), queueName);
  await t?.drop();
});

const run = (env: Record<string, string>) => runScript('apps/worker/src/server.ts', [], env, 20_000);

describe('worker process', () => {
  it('starts, reports ready with its metrics address, and exits 0 on SIGTERM', async () => {
    const worker = await startApp(
      'worker',
      { DATABASE_URL: t.url, REDIS_URL: inject('redisUrl'), QUEUE_NAME: queueName, WORKER_METRICS_PORT: '0' },
      /"msg":"worker ready"/,
    );
    const ready = JSON.parse(await worker.waitForOutput(/worker ready/)) as { metrics: string };
    const metrics = await fetch(ready.metrics).then((r) => r.text());
    expect(metrics).toContain('billing_queue_jobs');
    expect(metrics).toContain('process_resident_memory_bytes');
    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(worker.output()).toContain('"msg":"stopped"');
  });

  it.each([
    [{ WORKER_CONCURRENCY: 'ten' }, /^worker: WORKER_CONCURRENCY /],
    [{ WORKER_FAILED_RETENTION_DAYS: '0' }, /^worker: WORKER_FAILED_RETENTION_DAYS must be at least 1 \(got "0"\)$/],
    [{ DATABASE_URL: 'mysql://localhost/x' }, /^worker: DATABASE_URL must be a URL starting with postgres:\/\//],
    [{ STRIPE_SECRET_KEY: 'pk_test_123' }, /^worker: STRIPE_SECRET_KEY must be a Stripe secret key/],
    [{ QUEUE_SIGNING_KEY: '' }, /^worker: QUEUE_SIGNING_KEY is required$/],
    [{ QUEUE_SIGNING_KEY: 'short' }, /^worker: QUEUE_SIGNING_KEY must be one or more comma-separated keys of at least 32 characters$/],
    [{ PLAN_PRICES: 'price_x=platinum' }, /^worker: PLAN_PRICES names "platinum", not in PLAN_SLUGS \(starter, pro, business\)/],
  ])('a bad variable (%o) stops it at start with one line naming it', async (env, line) => {
    const result = await run(env);
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
  });

  it('refuses to start on an unmigrated database', async () => {
    const url = new URL(t.url);
    url.pathname = '/postgres';
    const result = await run({ DATABASE_URL: url.toString(), REDIS_URL: inject('redisUrl'), WORKER_METRICS_PORT: '0' });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('run `npm run db:migrate` first');
  });
});
