import http from 'node:http';
import { openQueueStore } from '@billing/queue';
import { event } from '@billing/stripe-simulator/events';
import { describeEachBackend } from '@billing/testing/test-queue';
import { UnrecoverableError } from 'bullmq';
import { afterAll, expect, it } from 'vitest';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import pLimit from 'p-limit';
import { figureLine } from '@billing/testing/faults/figures';
import { isAlive, startDashboard } from '@billing/testing/faults/fleet';
import { httpRequest, type HttpAnswer } from '@billing/testing/faults/http-client';
import { openScenario, type ScenarioBase } from '@billing/testing/faults/scenario';

const USER = 'operator';
const PASSWORD = 'fault suite: correct horse battery staple';
const basic = (credentials: string) => `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;

/** Every way of not having the credentials: none, wrong ones, and malformed headers. */
const NOT_AUTHORISED: Array<[string, Record<string, string>]> = [
  ['none', {}],
  ['wrong password', { authorization: basic(`${USER}:wrong`) }],
  ['wrong user', { authorization: basic(`root:${PASSWORD}`) }],
  ['user only', { authorization: basic(USER) }],
  ['empty password', { authorization: basic(`${USER}:`) }],
  ['password only', { authorization: basic(`:${PASSWORD}`) }],
  ['password with a suffix', { authorization: basic(`${USER}:${PASSWORD}x`) }],
  ['user in another case', { authorization: basic(`${USER.toUpperCase()}:${PASSWORD}`) }],
  ['empty Basic', { authorization: 'Basic ' }],
  ['not base64', { authorization: 'Basic !!!' }],
  ['another scheme', { authorization: `Bearer ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` }],
  ['a proxy header only', { 'x-forwarded-user': USER, 'x-remote-user': USER }],
];

interface Route {
  method: string;
  path: string;
  body?: string;
}

/** Bull Board's routes (pages, API, actions) as @bull-board/api 9.10 registers them, plus what is not a route. */
function boardRoutes(queue: string, failedJob: string, waitingJob: string): Route[] {
  const q = encodeURIComponent(queue);
  const json = (value: unknown) => JSON.stringify(value);
  return [
    ...['/', '/metrics-history', '/job-schedulers', `/queue/${q}`, `/queue/${q}/${failedJob}`].map((path) => ({ method: 'GET', path })),
    ...[
      '/api/redis/stats',
      '/api/queues',
      '/api/queues?activeQueue=x&status=failed&page=1',
      '/api/job-schedulers',
      '/api/metrics/latency',
      '/api/metrics/history',
      `/api/queues/${q}/metrics`,
      `/api/queues/${q}/default-job-options`,
      `/api/queues/${q}/workers`,
      `/api/queues/${q}/rate-limit`,
      `/api/queues/${q}/job-data-schema`,
      `/api/queues/${q}/${failedJob}`,
      `/api/queues/${q}/${failedJob}/logs`,
      `/api/queues/${q}/${failedJob}/flow`,
    ].map((path) => ({ method: 'GET', path })),
    ...[
      '/api/queues/pause',
      '/api/queues/resume',
      `/api/queues/${q}/retry/failed`,
      `/api/queues/${q}/promote`,
      `/api/queues/${q}/clean/failed`,
      `/api/queues/${q}/clean/waiting`,
      `/api/queues/${q}/pause`,
      `/api/queues/${q}/resume`,
      `/api/queues/${q}/empty`,
      `/api/queues/${q}/obliterate`,
      `/api/queues/${q}/rate-limit/release`,
      `/api/queues/${q}/${failedJob}/retry`,
      `/api/queues/${q}/${failedJob}/retry/failed`,
      `/api/queues/${q}/${failedJob}/clean`,
      `/api/queues/${q}/${waitingJob}/clean`,
      `/api/queues/${q}/${waitingJob}/promote`,
      `/api/queues/${q}/${waitingJob}/remove-unprocessed-children`,
      `/api/queues/${q}/job-schedulers/s1/remove`,
      `/api/queues/${q}/job-schedulers/s1/run`,
    ].map((path) => ({ method: 'PUT', path, body: '{}' })),
    { method: 'PUT', path: `/api/queues/${q}/concurrency`, body: json({ concurrency: 1 }) },
    { method: 'PUT', path: `/api/queues/${q}/rate-limit`, body: json({ max: 1, duration: 1000 }) },
    { method: 'POST', path: `/api/queues/${q}/add`, body: json({ name: 'invoice.paid', data: { id: 'evt_planted' } }) },
    { method: 'PATCH', path: `/api/queues/${q}/${waitingJob}/update-data`, body: json({ jobData: { id: 'evt_tampered' } }) },
    { method: 'PATCH', path: `/api/queues/${q}/${waitingJob}/delay`, body: json({ delay: 60_000 }) },
    { method: 'PATCH', path: `/api/queues/${q}/${waitingJob}/priority`, body: json({ priority: 1 }) },
    { method: 'PATCH', path: `/api/queues/${q}/job-schedulers/s1`, body: json({ pattern: '* * * * *' }) },
    { method: 'DELETE', path: `/api/queues/${q}` },
    { method: 'HEAD', path: '/' },
    { method: 'OPTIONS', path: '/api/queues' },
    // Not routes, or routes spelt oddly: the 404 handler and path normalisation must not bypass the check.
    ...[
      '/static/favicon.ico',
      '/static/does-not-exist.js',
      '/nope',
      '//api/queues',
      '/api//queues',
      '/API/queues',
      '/%61pi/queues',
      '/api/queues/',
      '/./api/queues',
      '/static/../api/queues',
      '/static/%2e%2e/api/queues',
      '/static/%2e%2e/%2e%2e/package.json',
      '/api/queues%00',
    ].map((path) => ({ method: 'GET', path })),
  ];
}

interface QueueState {
  counts: Record<string, number>;
  paused: boolean;
  failedJob: { state: string; data: unknown };
  waitingJob: { state: string; data: unknown; delay: number; priority: number };
}

async function queueState(s: ScenarioBase, failedJob: string, waitingJob: string): Promise<QueueState> {
  const failed = await s.queue.getJob(failedJob);
  const waiting = await s.queue.getJob(waitingJob);
  return {
    counts: await s.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'),
    paused: await s.queue.isPaused(),
    failedJob: { state: failed ? await failed.getState() : 'missing', data: failed?.data },
    waitingJob: {
      state: waiting ? await waiting.getState() : 'missing',
      data: waiting?.data,
      delay: waiting?.delay ?? -1,
      priority: waiting?.priority ?? -1,
    },
  };
}

describeEachBackend('fault: the dashboard without credentials', (backend) => {
  const cleanup = createCleanupStack();
  afterAll(() => cleanup.runAll(), 60_000);

  it('no route (page, asset, API, action) answers or acts without the credentials, and the guesses lock their address out', async () => {
    const s = await openScenario(`dashboard_auth_${backend}`, { backend, cleanup });

    // 1. A queue with something to act on: one failed job (retry, clean) and one waiting job (edit, promote, remove).
    const failedEvent = event('invoice.payment_failed', { object: 'invoice', id: 'in_fault' });
    const waitingEvent = event('invoice.paid', { object: 'invoice', id: 'in_fault_2' });
    await s.queue.add(failedEvent.type, failedEvent, { jobId: failedEvent.id, attempts: 1 });
    const consumer = openQueueStore(s.queueConfig, { role: 'consumer' });
    const failer = consumer.worker(
      s.queueName,
      async () => {
        throw new UnrecoverableError('failed on purpose by the fault suite');
      },
      {},
    );
    await new Promise<void>((resolve) => failer.once('failed', () => resolve()));
    await failer.close();
    await consumer.close();
    await s.queue.add(waitingEvent.type, waitingEvent, { jobId: waitingEvent.id });
    const before = await queueState(s, failedEvent.id, waitingEvent.id);

    // 2. The board, then every route × every way of lacking the credentials. Each attempt comes
    //    from a loopback address of its own, so the login lockout (10 wrong guesses per address)
    //    leaves the auth check itself to answer every one; step 3 tries the lockout.
    const board = await startDashboard(cleanup, { queue: s.queueConfig, queueName: s.queueName, user: USER, password: PASSWORD });
    const authorised = { authorization: basic(`${USER}:${PASSWORD}`) };
    const operatorAgent = new http.Agent({ keepAlive: true, localAddress: '127.0.0.2' });
    cleanup.defer('operator agent', () => operatorAgent.destroy());
    const page = await httpRequest({ port: board.port, method: 'GET', path: '/', headers: authorised, agent: operatorAgent });
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]*static\/[^"]+)"/g)].map((m) => `/${(m[1] as string).replace(/^\/+/, '')}`);
    const routes: Route[] = [
      ...boardRoutes(s.queueName, failedEvent.id, waitingEvent.id),
      ...assets.map((path) => ({ method: 'GET', path })),
    ];
    const attempts = routes.flatMap((route) => NOT_AUTHORISED.map(([label, headers]) => ({ route, label, headers })));
    const answers = await pLimit(16).map(
      attempts.map((attempt, i) => ({ ...attempt, i })),
      async ({ route, label, headers, i }) => {
        const agent = new http.Agent({ localAddress: `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}` });
        try {
          return {
            label,
            route: `${route.method} ${route.path}`,
            answer: await httpRequest({
              port: board.port,
              method: route.method,
              path: route.path,
              headers: { ...headers, ...(route.body === undefined ? {} : { 'content-type': 'application/json' }) },
              body: route.body,
              agent,
            }),
          };
        } finally {
          agent.destroy();
        }
      },
    );

    // 3. Guessing from one address: 10 wrong passwords answer 401, then everything from that
    //    address answers 429, the right password too, while the operator's address is unaffected.
    const guesser = new http.Agent({ keepAlive: true, localAddress: '127.0.0.3' });
    cleanup.defer('guesser agent', () => guesser.destroy());
    const guesses: number[] = [];
    for (let n = 0; n < 12; n++) {
      guesses.push(
        (
          await httpRequest({
            port: board.port,
            method: 'GET',
            path: '/api/queues',
            headers: { authorization: basic(`${USER}:guess-${n}`) },
            agent: guesser,
          })
        ).status,
      );
    }
    const lockedOut = await httpRequest({ port: board.port, method: 'GET', path: '/api/queues', headers: authorised, agent: guesser });
    const after = await queueState(s, failedEvent.id, waitingEvent.id);

    // 4. The same routes do exist: with the credentials the page, an asset, the API and a retry
    //    (sent as the board's page sends it, from its origin) work.
    const origin = { origin: `http://127.0.0.1:${board.port}` };
    const withCredentials = async (method: string, path: string): Promise<HttpAnswer> =>
      httpRequest({
        port: board.port,
        method,
        path,
        headers: { ...authorised, ...(method === 'GET' ? {} : origin) },
        agent: operatorAgent,
      });
    const authorisedAnswers = {
      page: page.status,
      asset: (await withCredentials('GET', assets[0] ?? '/static/missing')).status,
      api: (await withCredentials('GET', '/api/queues')).status,
      retry: (await withCredentials('PUT', `/api/queues/${encodeURIComponent(s.queueName)}/${failedEvent.id}/retry`)).status,
    };
    const retried = await s.queue.getJob(failedEvent.id);
    const retriedState = retried ? await retried.getState() : 'missing';

    const answeredWithout = answers.filter(({ answer }) => answer.status !== 401);
    const challenged = answers.filter(({ answer }) => answer.status === 401).length;
    const stateChanges = JSON.stringify(after) === JSON.stringify(before) ? 0 : 1;
    console.log(
      figureLine(
        `dashboard without credentials [${backend}]`,
        { sent: answers.length, acknowledged: answeredWithout.length, applied: stateChanges, appliedTwice: 0, lost: 0 },
        {
          routes: routes.length,
          credential_variants: NOT_AUTHORISED.length,
          answered_401: challenged,
          guesses: guesses.join(','),
          locked_out_with_credentials: lockedOut.status,
          assets: assets.length,
          with_credentials: authorisedAnswers,
          retried_with_credentials: retriedState,
        },
      ),
    );

    expect(answeredWithout.map(({ label, route, answer }) => `${route} [${label}] → ${answer.status || answer.error}`)).toEqual([]);
    expect(after).toEqual(before); // and nothing happened: no retry, clean, pause, add, edit
    expect(guesses).toEqual([...Array<number>(10).fill(401), 429, 429]);
    expect(lockedOut.status).toBe(429);
    expect(assets.length).toBeGreaterThan(0);
    expect(authorisedAnswers.page).toBe(200);
    expect(authorisedAnswers.asset).toBe(200);
    expect(authorisedAnswers.api).toBe(200);
    expect(authorisedAnswers.retry).toBeLessThan(300);
    expect(retriedState).toBe('waiting');
    expect(isAlive(board.app)).toBe(true);
  }, 90_000);
});
