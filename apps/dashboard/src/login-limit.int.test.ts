// Types `inject('redisUrl')` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { openEventQueue, openQueueStore, type EventQueue, type QueueStore } from '@billing/queue';
import { queueBackends, testQueueLocation, uniqueQueueName, type TestQueueLocation } from '@billing/testing/test-queue';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from './app';
import type { LoginLimitOptions } from './login-limiter';

const USER = 'admin';
const PASSWORD = 'login limit test: correct horse battery staple';
const WRONG = 'Tr0ub4dor&3-wrong-guess';
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

let location: TestQueueLocation;
let store: QueueStore;
let queue: EventQueue;
const boards: FastifyInstance[] = [];

beforeAll(async () => {
  // The lockout is the HTTP layer's business: one backend is enough.
  location = await testQueueLocation(queueBackends()[0]!, 'dashboard_login');
  store = openQueueStore(location.config, { role: 'producer' });
  queue = openEventQueue(store, uniqueQueueName('dashboard-login'));
});
afterEach(async () => {
  for (const board of boards.splice(0)) await board.close();
});
afterAll(async () => {
  await queue?.close();
  await store?.close();
  await location?.drop();
});

async function board(
  loginLimit: LoginLimitOptions,
): Promise<{ app: FastifyInstance; lines: () => Array<Record<string, unknown>>; raw: string[] }> {
  const raw: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void raw.push(line) });
  const app = await buildDashboard({ queues: [queue], user: USER, password: PASSWORD, logger, loginLimit });
  boards.push(app);
  return { app, raw, lines: () => raw.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('failed logins', () => {
  it('are logged with the user name tried and the address, never the password, and lock the address out after the limit', async () => {
    const { app, lines, raw } = await board({ maxFailures: 3, windowSeconds: 600 });

    const tries = [];
    for (const user of ['admin', 'root', 'admin'])
      tries.push((await app.inject({ method: 'GET', url: '/api/queues', headers: basic(user, WRONG) })).statusCode);
    expect(tries).toEqual([401, 401, 401]);

    // Locked out now, the right credentials too (else a 429 would only mark the wrong guesses).
    const locked = await app.inject({ method: 'GET', url: '/api/queues', headers: basic(USER, PASSWORD) });
    expect(locked.statusCode).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect(locked.headers['cache-control']).toBe('no-store');
    expect(locked.json()).toMatchObject({ error: 'too_many_requests' });
    expect((await app.inject({ method: 'GET', url: '/', headers: basic('admin', WRONG) })).statusCode).toBe(429);

    // Another address is not locked out.
    const elsewhere = await app.inject({ method: 'GET', url: '/api/queues', headers: basic(USER, PASSWORD), remoteAddress: '192.0.2.7' });
    expect(elsewhere.statusCode).toBe(200);

    const failed = lines().filter((l) => l.msg === 'dashboard login failed');
    expect(failed.map((l) => [l.user, l.client, l.failures])).toEqual([
      ['admin', '127.0.0.1', 1],
      ['root', '127.0.0.1', 2],
      ['admin', '127.0.0.1', 3],
    ]);
    expect(lines().filter((l) => String(l.msg).startsWith('dashboard login locked'))).toEqual([
      expect.objectContaining({ client: '127.0.0.1', failures: 3, windowSeconds: 600 }),
    ]);
    expect(raw.join('')).not.toContain(WRONG);
    expect(raw.join('')).not.toContain(PASSWORD);
  });

  it('do not count requests without credentials (a browser before its login prompt)', async () => {
    const { app } = await board({ maxFailures: 2, windowSeconds: 600 });
    for (let i = 0; i < 10; i++) expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/queues', headers: basic(USER, PASSWORD) })).statusCode).toBe(200);
  });

  it('are forgotten when the window ends', async () => {
    const { app } = await board({ maxFailures: 1, windowSeconds: 1 });
    expect((await app.inject({ method: 'GET', url: '/', headers: basic(USER, WRONG) })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/queues', headers: basic(USER, PASSWORD) })).statusCode).toBe(429);
    await expect
      .poll(async () => (await app.inject({ method: 'GET', url: '/api/queues', headers: basic(USER, PASSWORD) })).statusCode, {
        timeout: 10_000,
        interval: 200,
      })
      .toBe(200);
  });
});
