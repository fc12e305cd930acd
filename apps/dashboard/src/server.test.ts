// Types `inject('redisUrl')` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { freePort } from '@billing/testing/ports';
import { startApp, type AppProcess } from '@billing/testing/processes';
import { dropQueue } from '@billing/testing/queues';
import { uniqueQueueName } from '@billing/testing/database';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';

const running: AppProcess[] = [];
const queueName = uniqueQueueName('dashboard-server');
afterEach(async () => {
  for (const app of running.splice(0)) await app.stop('SIGKILL');
});
afterAll(() => dropQueue(inject('redisUrl'), queueName));

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('dashboard server', () => {
  it('generates a password when none is set, prints it once, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const app = await startApp(
      'dashboard',
      { REDIS_URL: inject('redisUrl'), QUEUE_NAME: queueName, DASHBOARD_PORT: String(port) },
      /"msg":"dashboard listening"/,
    );
    running.push(app);
    const lines = app.output().split('\n').filter((l) => l.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
    const listening = lines.find((l) => l.msg === 'dashboard listening');
    expect(listening?.url).toBe(`http://127.0.0.1:${port}/`);
    const generated = lines.filter((l) => typeof l.password === 'string');
    expect(generated).toHaveLength(1);
    const password = generated[0]!.password as string;
    expect(password.length).toBeGreaterThanOrEqual(20);

    const denied = await fetch(`http://127.0.0.1:${port}/api/queues`);
    expect(denied.status).toBe(401);
    const allowed = await fetch(`http://127.0.0.1:${port}/api/queues`, { headers: { authorization: basic('admin', password) } });
    expect(allowed.status).toBe(200);

    expect(await app.stop('SIGTERM')).toBe(0);
    expect(app.output()).not.toContain(`"password":"${password}"`.repeat(2));
    expect(app.output().split(password).length - 1).toBe(1);
  });

  it('uses DASHBOARD_USER / DASHBOARD_PASSWORD and never prints the password', async () => {
    const port = await freePort();
    const app = await startApp(
      'dashboard',
      {
        REDIS_URL: inject('redisUrl'),
        QUEUE_NAME: queueName,
        DASHBOARD_PORT: String(port),
        DASHBOARD_USER: 'ops',
        DASHBOARD_PASSWORD: 's3cret-for-test',
      },
      /"msg":"dashboard listening"/,
    );
    running.push(app);
    expect((await fetch(`http://127.0.0.1:${port}/`, { headers: { authorization: basic('admin', 's3cret-for-test') } })).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/`, { headers: { authorization: basic('ops', 's3cret-for-test') } })).status).toBe(200);
    expect(app.output()).not.toContain('s3cret-for-test');
    expect(await app.stop('SIGINT')).toBe(0);
  });

  it('stops at start with one line naming a bad variable', async () => {
    await expect(
      startApp('dashboard', { DASHBOARD_PORT: 'eighty', REDIS_URL: inject('redisUrl') }, /dashboard listening/, 15_000),
    ).rejects.toThrow(/dashboard: DASHBOARD_PORT /);
  });
});
