import http from 'node:http';
import { openEventQueue, openQueueStore, type EventQueue, type QueueStore } from '@billing/queue';
import { describeEachBackend, testQueueLocation, uniqueQueueName, type TestQueueLocation } from '@billing/testing/test-queue';
import { runScript, startApp, type AppProcess } from '@billing/testing/processes';
import { createTestDatabase } from '@billing/testing/database';
import { signatureHeader } from '@billing/stripe-simulator/events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { invoiceEvent, SECRETS } from '../test-support/test-ingress';
import { signedJob, TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';

describeEachBackend('server.ts (a real process)', (backend) => {
  const queueName = uniqueQueueName('ingress-server');
  let location: TestQueueLocation;
  let store: QueueStore;
  let queue: EventQueue;
  let env: Record<string, string>;
  let running: AppProcess | undefined;

  beforeAll(async () => {
    location = await testQueueLocation(backend, 'ingress_server');
    store = openQueueStore(location.config, { role: 'producer' });
    queue = openEventQueue(store, queueName);
    await queue.waitUntilReady();
    env = {
      STRIPE_WEBHOOK_SECRET: SECRETS.join(','),
      QUEUE_SIGNING_KEY: TEST_QUEUE_SIGNING_KEY,
      ...location.env,
      QUEUE_NAME: queueName,
      PORT: '0',
      HOST: '127.0.0.1',
      INGRESS_METRICS_PORT: '0',
    };
  });

  afterEach(async () => {
    await running?.stop('SIGKILL');
    running = undefined;
  });

  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    await store.close();
    await location.drop();
  });

  async function startIngress(): Promise<{ app: AppProcess; url: string }> {
    running = await startApp('ingress', env, /"msg":"ingress listening"/);
    const line =
      running
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"ingress listening"')) ?? '';
    const { url } = JSON.parse(line) as { url: string };
    return { app: running, url };
  }

  /** Runs the server to its exit with `overrides` on top of `env`; the exit code and what it printed. */
  async function runToExit(
    overrides: Record<string, string | undefined>,
  ): Promise<{ code: number | undefined; stdout: string; stderr: string }> {
    const { status, stdout, stderr } = await runScript('apps/ingress/src/server.ts', [], { ...env, ...overrides }, 30_000);
    return { code: status, stdout, stderr };
  }

  it('logs one JSON line "ingress listening" with its url and queue backend, serves webhooks, and never logs secrets or signatures', async () => {
    const { app, url } = await startIngress();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const { event, body } = invoiceEvent();
    const signature = signatureHeader(body, SECRETS[1]);
    const res = await fetch(`${url}/checkout/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signature },
      body,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: true });
    expect((await queue.getJob(event.id))?.data).toEqual(signedJob(event));
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    await app.waitForOutput(/webhook enqueued/);
    const output = app.output();
    const line = JSON.parse(output.split('\n').find((l) => l.includes('webhook enqueued')) ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({ eventId: event.id, eventType: 'invoice.paid', secretIndex: 1 });
    const listening = JSON.parse(output.split('\n').find((l) => l.includes('"msg":"ingress listening"')) ?? '{}') as Record<
      string,
      unknown
    >;
    expect(listening).toMatchObject({ backend });
    expect(String(listening.store)).toMatch(
      backend === 'redis' ? /^redis 127\.0\.0\.1:\d+ prefix bull$/ : /^postgres 127\.0\.0\.1:\d+\/bw_\w+ schema bullmq$/,
    );
    for (const secret of SECRETS) expect(output).not.toContain(secret);
    expect(output).not.toContain(signature.split('v1=')[1]);
    expect(output).not.toContain((event.request as { id: string | null }).id ?? 'never');
    expect(await app.stop('SIGTERM')).toBe(0);
  });

  it('on SIGTERM finishes the request in flight (200, job in the queue), closes its keep-alive connection, exits 0', async () => {
    const { app, url } = await startIngress();
    const { event, body } = invoiceEvent();
    const { port } = new URL(url);
    const half = Math.floor(body.length / 2);

    // A request whose body is still arriving when the signal comes, on a keep-alive connection
    // as a load balancer's pool would hold it.
    const agent = new http.Agent({ keepAlive: true });
    const answer = new Promise<{ status: number | undefined; connection: string | undefined; text: string }>((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/checkout/webhooks/stripe',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'stripe-signature': signatureHeader(body, SECRETS[0]),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, half));
      setTimeout(() => {
        app.child.kill('SIGTERM');
        app.waitForOutput(/"msg":"shutting down"/).then(() => req.end(body.slice(half)), reject);
      }, 300);
    });

    const { status, connection, text } = await answer;
    const answeredAt = Date.now();
    expect(status).toBe(200);
    expect(text).toBe('{"received":true}');
    expect(connection).toBe('close');
    expect(await app.exited).toBe(0);
    // Not held open by the idle keep-alive connection (the agent would keep it for 5 s or more).
    expect(Date.now() - answeredAt).toBeLessThan(3_000);
    agent.destroy();
    expect((await queue.getJob(event.id))?.data).toEqual(signedJob(event));
    expect(app.output()).toContain('"msg":"stopped"');
  });

  it('serves /metrics on its own port, on 127.0.0.1 by default, and not on the webhook port', async () => {
    const { app, url } = await startIngress();
    const line = JSON.parse(
      app
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"ingress listening"')) ?? '{}',
    ) as { metrics?: string };
    expect(line.metrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(new URL(line.metrics as string).port).not.toBe(new URL(url).port);
    const { body } = invoiceEvent();
    await fetch(`${url}/checkout/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signatureHeader(body, SECRETS[0]) },
      body,
    });
    const metrics = await fetch(line.metrics as string);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toMatch(/billing_ingress_requests_total\{outcome="received",app="ingress"\} 1/);
    expect(text).toContain('process_resident_memory_bytes');
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(await app.stop('SIGTERM')).toBe(0);
  });

  it('stops at start with exit 1 and one line naming STRIPE_WEBHOOK_SECRET when it is missing', async () => {
    const { code, stdout, stderr } = await runToExit({ STRIPE_WEBHOOK_SECRET: undefined });
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual(['ingress: STRIPE_WEBHOOK_SECRET is required']);
    expect(stdout).not.toContain('ingress listening');
  });

  it('stops at start with exit 1 and one line naming REDIS_URL when it is malformed', async () => {
    const { code, stderr } = await runToExit({ REDIS_URL: 'http://127.0.0.1:6379' });
    expect(code).toBe(1);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ingress: REDIS_URL must be a URL/);
  });
});

describe('server.ts, start refused', () => {
  it('QUEUE_BACKEND=redis with no Redis variable: exit 1, one line naming QUEUE_BACKEND', async () => {
    const { status, stderr } = await runScript(
      'apps/ingress/src/server.ts',
      [],
      { STRIPE_WEBHOOK_SECRET: SECRETS[0], QUEUE_SIGNING_KEY: TEST_QUEUE_SIGNING_KEY, QUEUE_BACKEND: 'redis', REDIS_URL: undefined },
      30_000,
    );
    expect(status).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      'ingress: QUEUE_BACKEND is redis, but none of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES is set (got "redis")',
    ]);
  });
});

it('on Postgres, a queue schema never migrated stops the ingress at start with one line saying to run npm run db:migrate', async () => {
  const t = await createTestDatabase('ingress_unmigrated');
  try {
    const { status, stderr, stdout } = await runScript(
      'apps/ingress/src/server.ts',
      [],
      {
        STRIPE_WEBHOOK_SECRET: SECRETS[0],
        QUEUE_SIGNING_KEY: TEST_QUEUE_SIGNING_KEY,
        QUEUE_BACKEND: 'postgres',
        QUEUE_DATABASE_URL: t.url,
        PORT: '0',
        INGRESS_METRICS_PORT: '0',
      },
      30_000,
    );
    expect(status).toBe(1);
    expect(`${stdout}${stderr}`).toMatch(/the queue's schema \\?"bullmq\\?" is not migrated \(postgres .*\): run npm run db:migrate/);
  } finally {
    await t.drop();
  }
});
