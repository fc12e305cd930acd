// Types `inject('redisUrl')` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { freePort } from '@billing/testing/ports';
import { startApp, type AppProcess } from '@billing/testing/processes';
import { describeEachBackend, dropQueue, testQueueLocation, uniqueQueueName, type TestQueueLocation } from '@billing/testing/test-queue';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

describeEachBackend('dashboard server', (backend) => {
  const running: AppProcess[] = [];
  const queueName = uniqueQueueName('dashboard-server');
  let location: TestQueueLocation;
  beforeAll(async () => {
    location = await testQueueLocation(backend, 'dashboard_server');
  });
  afterEach(async () => {
    for (const app of running.splice(0)) await app.stop('SIGKILL');
  });
  afterAll(async () => {
    await dropQueue(location.config, queueName);
    await dropQueue(location.config, `${queueName}-notifications`);
    await location.drop();
  });

  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('generates a password when none is set, prints it once on stderr and in no log line, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const app = await startApp(
      'dashboard',
      { ...location.env, QUEUE_NAME: queueName, DASHBOARD_PORT: String(port) },
      /"msg":"dashboard listening"/,
    );
    running.push(app);
    const lines = app
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const listening = lines.find((l) => l.msg === 'dashboard listening');
    expect(listening?.url).toBe(`http://127.0.0.1:${port}/`);
    expect(lines.find((l) => String(l.msg).startsWith('DASHBOARD_PASSWORD is not set'))).toMatchObject({ level: 40, user: 'admin' });
    const printed = /^dashboard: DASHBOARD_PASSWORD is not set; generated for this run: user admin password (\S+)$/m.exec(app.output());
    expect(printed).not.toBeNull();
    const password = printed![1]!;
    expect(password.length).toBeGreaterThanOrEqual(20);

    const denied = await fetch(`http://127.0.0.1:${port}/api/queues`);
    expect(denied.status).toBe(401);
    const allowed = await fetch(`http://127.0.0.1:${port}/api/queues`, { headers: { authorization: basic('admin', password) } });
    expect(allowed.status).toBe(200);
    // Both queues: the events, and the worker's deliveries to the host application.
    const { queues } = (await allowed.json()) as { queues: Array<{ name: string }> };
    expect(queues.map((q) => q.name).sort()).toEqual([queueName, `${queueName}-notifications`]);

    expect(await app.stop('SIGTERM')).toBe(0);
    const withPassword = app
      .output()
      .split('\n')
      .filter((line) => line.includes(password));
    expect(withPassword).toEqual([printed![0]]);
  });

  it('uses DASHBOARD_USER / DASHBOARD_PASSWORD and never prints the password', async () => {
    const port = await freePort();
    const app = await startApp(
      'dashboard',
      {
        ...location.env,
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

  it.each([
    ['a weak password', { DASHBOARD_PASSWORD: 'hunter2-abc' }, 'dashboard: DASHBOARD_PASSWORD must be at least 12 characters long'],
    ['a bad lockout setting', { DASHBOARD_LOGIN_MAX_FAILURES: 'lots' }, 'dashboard: DASHBOARD_LOGIN_MAX_FAILURES must be a number'],
  ])('stops at start with %s, in one line naming it', async (_label, env, expected) => {
    const started = startApp('dashboard', { ...location.env, QUEUE_NAME: queueName, ...env }, /dashboard listening/, 15_000);
    const error = await started.then(
      () => new Error('started'),
      (e: Error) => e,
    );
    expect(error.message).toMatch(/exited \(code 1\)/);
    const output = error.message.slice(error.message.indexOf('Output:\n') + 'Output:\n'.length).trim();
    expect(output.split('\n')).toEqual([expect.stringMatching(new RegExp(`^${expected}`))]);
    expect(output).not.toContain('hunter2-abc');
  });

  it('stops at start with one line naming a bad variable', async () => {
    await expect(startApp('dashboard', { DASHBOARD_PORT: 'eighty', ...location.env }, /dashboard listening/, 15_000)).rejects.toThrow(
      /dashboard: DASHBOARD_PORT /,
    );
  });
});
