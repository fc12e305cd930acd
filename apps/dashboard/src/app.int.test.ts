// Types `inject('redisUrl')` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { enqueueEvent, openEventQueue, openQueueStore, type EventQueue, type QueueStore } from '@billing/queue';
import { describeEachBackend, testQueueLocation, uniqueQueueName, type TestQueueLocation } from '@billing/testing/test-queue';
import { event } from '@billing/stripe-simulator/events';
import { UnrecoverableError } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from './app';

const USER = 'admin';
const PASSWORD = 'correct horse battery staple';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const AUTH = { authorization: basic(USER, PASSWORD) };
/** An action as the board's own page sends it (same origin; see lockdown.test.ts). */
const ACTION = { ...AUTH, host: 'localhost:3001', origin: 'http://localhost:3001' };

describeEachBackend('the dashboard', (backend) => {
  const queueName = uniqueQueueName('dashboard');
  let location: TestQueueLocation;
  let store: QueueStore;
  let queue: EventQueue;
  let app: FastifyInstance;
  let assetPath: string;

  beforeAll(async () => {
    location = await testQueueLocation(backend, 'dashboard_app');
    store = openQueueStore(location.config, { role: 'producer' });
    queue = openEventQueue(store, queueName);
    // The auth matrix below sends many wrong passwords: the lockout is tested in login-limit.test.ts.
    app = await buildDashboard({ queues: [queue], user: USER, password: PASSWORD, loginLimit: { maxFailures: 1_000 } });
    await app.ready();
    const page = await app.inject({ method: 'GET', url: '/', headers: AUTH });
    const src = /src="([^"]*static\/[^"]+\.js)"/.exec(page.body)?.[1];
    if (!src) throw new Error(`no script asset found in the board page:\n${page.body.slice(0, 2000)}`);
    assetPath = `/${src.replace(/^\/+/, '')}`;
  });

  afterAll(async () => {
    await app?.close();
    await queue?.obliterate({ force: true }).catch(() => {});
    await queue?.close();
    await store?.close();
    await location?.drop();
  });

  describe('dashboard auth', () => {
    const routes = () => [
      { what: 'the page', url: '/' },
      { what: 'a deep link', url: `/queue/${queueName}` },
      { what: 'an asset', url: assetPath },
      { what: 'the API', url: '/api/queues' },
      { what: 'an unknown route', url: '/nope' },
    ];

    it.each([
      ['no credentials', {}],
      ['a wrong password', { authorization: basic(USER, 'wrong') }],
      ['a wrong user', { authorization: basic('root', PASSWORD) }],
      ['a malformed header', { authorization: 'Basic !!!' }],
      ['another scheme', { authorization: 'Bearer abc' }],
    ])('answers 401 with %s on every route, with a challenge', async (_label, headers: Record<string, string>) => {
      for (const { what, url } of routes()) {
        const response = await app.inject({ method: 'GET', url, headers });
        expect(response.statusCode, what).toBe(401);
        expect(response.headers['www-authenticate'], what).toMatch(/^Basic realm="billing-webhooks"/);
        expect(response.body, what).not.toContain('<html');
      }
      const retry = await app.inject({ method: 'PUT', url: `/api/queues/${queueName}/retry/failed`, headers });
      expect(retry.statusCode).toBe(401);
    });

    it('serves the page, an asset and the API with the credentials', async () => {
      const page = await app.inject({ method: 'GET', url: '/', headers: AUTH });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.body).toContain('<base href="/"');

      const asset = await app.inject({ method: 'GET', url: assetPath, headers: AUTH });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['content-type']).toMatch(/javascript/);

      const api = await app.inject({ method: 'GET', url: '/api/queues', headers: AUTH });
      expect(api.statusCode).toBe(200);
      const names = (api.json() as { queues: Array<{ name: string }> }).queues.map((q) => q.name);
      expect(names).toContain(queueName);
    });

    it.each(['', 'elevenchars'])('refuses to build with a password shorter than 12 characters (%j)', async (password) => {
      await expect(buildDashboard({ queues: [queue], user: USER, password })).rejects.toThrow(/shorter than 12 characters/);
    });
  });

  describe('retrying a failed job from the board', () => {
    it('moves it back to waiting, and a worker then completes it', async () => {
      const failing = event('invoice.paid', { id: 'in_1', object: 'invoice' });
      await enqueueEvent(store, queue, failing);

      // 1. A worker that fails the job for good (as the real one does for an invalid event).
      const failerStore = openQueueStore(location.config, { role: 'consumer' });
      const failer = failerStore.worker(
        queueName,
        async () => {
          throw new UnrecoverableError('event is not valid for its type (test)');
        },
        {},
      );
      try {
        await expect.poll(() => queue.getJobState(failing.id), { timeout: 15_000 }).toBe('failed');
      } finally {
        await failer.close();
        await failerStore.close();
      }

      // 2. Retry through the board's API, as the "Retry" button does.
      const retry = await app.inject({ method: 'PUT', url: `/api/queues/${queueName}/${failing.id}/retry`, headers: ACTION });
      expect(retry.statusCode, retry.body).toBeLessThan(300);
      expect(await queue.getJobState(failing.id)).toBe('waiting');
      const job = await queue.getJob(failing.id);
      // Bull Board does not reset the attempt count: why docs/operations.md points to `npm run replay`.
      expect(job?.attemptsMade).toBe(1);

      // 3. A worker picks it up and completes it.
      const completerStore = openQueueStore(location.config, { role: 'consumer' });
      const completer = completerStore.worker(queueName, async (j) => ({ outcome: `applied ${j.name}` }), {});
      try {
        await expect.poll(() => queue.getJobState(failing.id), { timeout: 15_000 }).toBe('completed');
        expect((await queue.getJob(failing.id))?.returnvalue).toEqual({ outcome: 'applied invoice.paid' });
      } finally {
        await completer.close();
        await completerStore.close();
      }

      // 4. The job detail through the API shows the result.
      const detail = await app.inject({ method: 'GET', url: `/api/queues/${queueName}/${failing.id}`, headers: AUTH });
      expect(detail.statusCode).toBe(200);
      expect(detail.body).toContain(failing.id);
    });

    it('answers 400 (not 500) when retrying a job that is not failed', async () => {
      const waiting = event('invoice.paid', { id: 'in_2', object: 'invoice' });
      await enqueueEvent(store, queue, waiting);
      const retry = await app.inject({ method: 'PUT', url: `/api/queues/${queueName}/${waiting.id}/retry`, headers: ACTION });
      expect(retry.statusCode).toBe(400);
      await queue.remove(waiting.id);
    });
  });
});
