import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueConfig } from '@billing/queue';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { dropQueue, queueBackends, queueEnvOf, testQueueConfig, uniqueQueueName } from '@billing/testing/test-queue';
import { runScript, startApp } from '@billing/testing/processes';

let t: TestDatabase;
const queueName = uniqueQueueName('srv');
const configs: QueueConfig[] = [];
beforeAll(async () => {
  t = await createTestDatabase('worker_server');
  for (const backend of queueBackends()) configs.push(await testQueueConfig(backend, t.url));
});
afterAll(async () => {
  for (const config of configs) await dropQueue(config, queueName);
  await t?.drop();
});

const run = (env: Record<string, string>) => runScript('apps/worker/src/server.ts', [], env, 45_000);

describe('worker process', () => {
  it.each(queueBackends())(
    'starts on the %s queue, reports ready with its backend and metrics address, and exits 0 on SIGTERM',
    async (backend) => {
      const config = configs.find((c) => c.backend === backend)!;
      const worker = await startApp(
        'worker',
        { DATABASE_URL: t.url, ...queueEnvOf(config), QUEUE_NAME: queueName, WORKER_METRICS_PORT: '0' },
        /"msg":"worker ready"/,
      );
      const ready = JSON.parse(await worker.waitForOutput(/worker ready/)) as { metrics: string; backend: string };
      expect(ready.backend).toBe(backend);
      const metrics = await fetch(ready.metrics).then((r) => r.text());
      expect(metrics).toContain('billing_queue_jobs');
      expect(metrics).toContain('process_resident_memory_bytes');
      expect(await worker.stop('SIGTERM')).toBe(0);
      expect(worker.output()).toContain('"msg":"stopped"');
    },
  );

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
    const result = await run({ DATABASE_URL: url.toString(), ...queueEnvOf(configs[0]!), WORKER_METRICS_PORT: '0' });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('run `npm run db:migrate` first');
  });
});
