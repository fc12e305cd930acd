// Types `inject('redisUrl')` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { workerConnection } from '@billing/queue';
import { uniqueQueueName } from '@billing/testing/database';
import { dropQueue } from '@billing/testing/queues';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { buildDashboard } from './app';

// The dashboard lets operators read, retry, promote and clean jobs, nothing else (DESIGN.md),
// from the board's own page only, and says in the log who did what.

const USER = 'operator';
const PASSWORD = 'lockdown test: correct horse battery staple';
const HOST = 'board.test:3001';
/** What the board's own page sends with an action (an XHR from its origin, no body). */
const OPERATOR = {
  authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
  host: HOST,
  origin: `http://${HOST}`,
  'sec-fetch-site': 'same-origin',
  'sec-fetch-mode': 'cors',
};
const JSON_BODY = { 'content-type': 'application/json' };

const queueName = uniqueQueueName('dashboard-lockdown');
const q = encodeURIComponent(queueName);
let connection: Redis;
let queue: Queue;
let app: FastifyInstance;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  connection = workerConnection(inject('redisUrl'));
  queue = new Queue(queueName, { connection });
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
  app = await buildDashboard({ queues: [queue], user: USER, password: PASSWORD, logger });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await queue?.close();
  await connection?.quit();
  await dropQueue(inject('redisUrl'), queueName);
});
beforeEach(async () => {
  await queue.obliterate({ force: true });
  logLines.length = 0;
});

/** Adds jobs and lets a worker complete or fail them (failing ones fail for good at once). */
async function settled(jobs: Array<{ id: string; fail: boolean }>): Promise<void> {
  const ids = new Set(jobs.map((j) => j.id));
  for (const job of jobs) await queue.add('invoice.paid', { id: job.id, note: 'original' }, { jobId: job.id });
  const failing = new Set(jobs.filter((j) => j.fail).map((j) => j.id));
  const workerConn = workerConnection(inject('redisUrl'));
  const worker = new Worker(queueName, async (job) => {
    if (failing.has(job.id ?? '')) throw new UnrecoverableError('failed on purpose (test)');
    return { outcome: 'applied' };
  }, { connection: workerConn });
  try {
    await expect
      .poll(async () => (await Promise.all([...ids].map((id) => queue.getJobState(id)))).every((s) => s === 'completed' || s === 'failed'), { timeout: 15_000 })
      .toBe(true);
  } finally {
    await worker.close();
    await workerConn.quit();
  }
}

/** Everything a request could change: counts, pause, limits, and each job's state, data and options. */
async function snapshot(ids: string[]): Promise<unknown> {
  const jobs = await Promise.all(
    ids.map(async (id) => {
      const job = await queue.getJob(id);
      return job ? { id, state: await job.getState(), data: job.data, delay: job.delay, priority: job.priority, attempts: job.attemptsMade } : { id, state: 'missing' };
    }),
  );
  return {
    counts: await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'waiting-children'),
    paused: await queue.isPaused(),
    concurrency: await queue.getGlobalConcurrency(),
    rateLimit: await queue.getRateLimitTtl(),
    schedulers: await queue.getJobSchedulersCount(),
    jobs,
  };
}

const audits = () => logLines.filter((l) => l.audit === true);

describe('what an operator cannot do', () => {
  const failed = 'evt_lockdown_failed';
  const completed = 'evt_lockdown_completed';
  const waiting = 'evt_lockdown_waiting';
  const delayed = 'evt_lockdown_delayed';

  /** Bull Board 9.10's routes that add, edit, remove or reconfigure, and actions outside the policy. */
  const blocked: Array<{ what: string; method: 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; body?: unknown; status?: number; reason?: string }> = [
    { what: 'add a job', method: 'POST', url: `/api/queues/${q}/add`, body: { name: 'checkout.session.completed', data: { id: 'evt_minted' }, options: {} } },
    { what: 'edit a waiting job', method: 'PATCH', url: `/api/queues/${q}/${waiting}/update-data`, body: { id: 'evt_tampered' } },
    { what: 'edit a failed job', method: 'PATCH', url: `/api/queues/${q}/${failed}/update-data`, body: { id: 'evt_tampered' } },
    { what: 'reschedule a delayed job', method: 'PATCH', url: `/api/queues/${q}/${delayed}/delay`, body: { delay: 1 } },
    { what: 'reprioritise a job', method: 'PATCH', url: `/api/queues/${q}/${waiting}/priority`, body: { priority: 5 } },
    { what: 'obliterate the queue', method: 'PUT', url: `/api/queues/${q}/obliterate`, body: { force: true } },
    { what: 'empty the queue', method: 'PUT', url: `/api/queues/${q}/empty` },
    { what: 'pause the queue', method: 'PUT', url: `/api/queues/${q}/pause` },
    { what: 'resume the queue', method: 'PUT', url: `/api/queues/${q}/resume` },
    { what: 'pause every queue', method: 'PUT', url: '/api/queues/pause' },
    { what: 'resume every queue', method: 'PUT', url: '/api/queues/resume' },
    { what: 'set the global concurrency', method: 'PUT', url: `/api/queues/${q}/concurrency`, body: { concurrency: 1 } },
    { what: 'set a rate limit', method: 'PUT', url: `/api/queues/${q}/rate-limit`, body: { max: 1, duration: 60_000 } },
    { what: 'release the rate limit', method: 'PUT', url: `/api/queues/${q}/rate-limit/release` },
    { what: 'remove a job scheduler', method: 'PUT', url: `/api/queues/${q}/job-schedulers/s1/remove` },
    { what: 'run a job scheduler', method: 'PUT', url: `/api/queues/${q}/job-schedulers/s1/run` },
    { what: 'edit a job scheduler', method: 'PATCH', url: `/api/queues/${q}/job-schedulers/s1`, body: { pattern: '* * * * *' } },
    { what: "remove a job's children", method: 'PUT', url: `/api/queues/${q}/${waiting}/remove-unprocessed-children` },
    { what: 'clean the waiting jobs', method: 'PUT', url: `/api/queues/${q}/clean/waiting` },
    { what: 'clean the delayed jobs', method: 'PUT', url: `/api/queues/${q}/clean/delayed` },
    { what: 'clean the active jobs', method: 'PUT', url: `/api/queues/${q}/clean/active` },
    { what: 'clean a waiting job', method: 'PUT', url: `/api/queues/${q}/${waiting}/clean`, reason: 'wrong_state' },
    { what: 'clean a delayed job', method: 'PUT', url: `/api/queues/${q}/${delayed}/clean`, reason: 'wrong_state' },
    { what: 'retry the completed jobs', method: 'PUT', url: `/api/queues/${q}/retry/completed` },
    { what: 'retry a completed job', method: 'PUT', url: `/api/queues/${q}/${completed}/retry`, status: 400, reason: 'wrong_state' },
    { what: 'promote a waiting job', method: 'PUT', url: `/api/queues/${q}/${waiting}/promote`, status: 400, reason: 'wrong_state' },
    { what: 'DELETE a queue (no such route)', method: 'DELETE', url: `/api/queues/${q}` },
    { what: 'POST a retry (no such route)', method: 'POST', url: `/api/queues/${q}/${failed}/retry`, body: {} },
  ];

  it.each(blocked)('refuses to $what, and nothing changes in Redis', async ({ method, url, body, status = 403, reason = 'not_allowed' }) => {
    await settled([{ id: failed, fail: true }, { id: completed, fail: false }]);
    await queue.add('invoice.paid', { id: waiting, note: 'original' }, { jobId: waiting });
    await queue.add('invoice.paid', { id: delayed, note: 'original' }, { jobId: delayed, delay: 3_600_000 });
    const ids = [failed, completed, waiting, delayed, 'evt_minted'];
    const before = await snapshot(ids);

    const response = await app.inject({
      method,
      url,
      headers: body === undefined ? OPERATOR : { ...OPERATOR, ...JSON_BODY },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

    expect(response.statusCode, response.body).toBe(status);
    expect(response.json()).toMatchObject({ reason, message: expect.any(String) });
    expect(await snapshot(ids)).toEqual(before);
    expect(audits()).toEqual([expect.objectContaining({ user: USER, result: status, outcome: 'refused', reason })]);
  });

  it('refuses a route Bull Board adds in an upgrade until it is listed', async () => {
    const upgraded = await buildDashboard({ queues: [queue], user: USER, password: PASSWORD });
    let reached = 0;
    upgraded.put('/api/queues/:queueName/brand-new-action', async () => ({ done: ++reached }));
    upgraded.get('/api/brand-new-read', async () => ({ done: ++reached }));
    try {
      const action = await upgraded.inject({ method: 'PUT', url: `/api/queues/${q}/brand-new-action`, headers: OPERATOR });
      const read = await upgraded.inject({ method: 'GET', url: '/api/brand-new-read', headers: OPERATOR });
      expect([action.statusCode, read.statusCode]).toEqual([403, 403]);
      expect(reached).toBe(0);
    } finally {
      await upgraded.close();
    }
  });
});

describe('what an operator can do, each logged with who did it', () => {
  it('retries a failed job', async () => {
    await settled([{ id: 'evt_retry_one', fail: true }]);
    const response = await app.inject({ method: 'PUT', url: `/api/queues/${q}/evt_retry_one/retry`, headers: OPERATOR });
    expect(response.statusCode, response.body).toBe(204);
    expect(await queue.getJobState('evt_retry_one')).toBe('waiting');
    expect(audits()).toEqual([
      expect.objectContaining({ user: USER, client: '127.0.0.1', action: 'retry', queue: queueName, job: 'evt_retry_one', result: 204, outcome: 'done' }),
    ]);
  });

  it('retries every failed job, and the line says how many', async () => {
    await settled([{ id: 'evt_retry_a', fail: true }, { id: 'evt_retry_b', fail: true }, { id: 'evt_retry_c', fail: false }]);
    const response = await app.inject({ method: 'PUT', url: `/api/queues/${q}/retry/failed`, headers: OPERATOR });
    expect(response.statusCode, response.body).toBe(200);
    expect(await Promise.all(['evt_retry_a', 'evt_retry_b', 'evt_retry_c'].map((id) => queue.getJobState(id)))).toEqual(['waiting', 'waiting', 'completed']);
    expect(audits()).toEqual([
      expect.objectContaining({ user: USER, action: 'retry-all', queue: queueName, status: 'failed', result: 200, outcome: 'done', retried: 2, skipped: 0 }),
    ]);
  });

  it('promotes a delayed job, and every delayed job', async () => {
    await queue.add('invoice.paid', { id: 'evt_later_1' }, { jobId: 'evt_later_1', delay: 3_600_000 });
    await queue.add('invoice.paid', { id: 'evt_later_2' }, { jobId: 'evt_later_2', delay: 3_600_000 });
    const one = await app.inject({ method: 'PUT', url: `/api/queues/${q}/evt_later_1/promote`, headers: OPERATOR });
    expect(one.statusCode, one.body).toBe(204);
    expect(await queue.getJobState('evt_later_1')).toBe('waiting');
    expect(await queue.getJobState('evt_later_2')).toBe('delayed');
    const all = await app.inject({ method: 'PUT', url: `/api/queues/${q}/promote`, headers: OPERATOR });
    expect(all.statusCode, all.body).toBe(200);
    expect(await queue.getJobState('evt_later_2')).toBe('waiting');
    expect(audits()).toEqual([
      expect.objectContaining({ user: USER, action: 'promote', queue: queueName, job: 'evt_later_1', result: 204, outcome: 'done' }),
      expect.objectContaining({ user: USER, action: 'promote-all', queue: queueName, result: 200, outcome: 'done' }),
    ]);
  });

  it('cleans a completed job, and the completed and failed jobs', async () => {
    await settled([{ id: 'evt_done_1', fail: false }, { id: 'evt_done_2', fail: false }, { id: 'evt_broken', fail: true }]);
    const one = await app.inject({ method: 'PUT', url: `/api/queues/${q}/evt_done_1/clean`, headers: OPERATOR });
    expect(one.statusCode, one.body).toBe(204);
    expect(await queue.getJobState('evt_done_1')).toBe('unknown');

    // Bull Board cleans only jobs finished more than 5 s ago: ask until they are that old.
    for (const status of ['completed', 'failed'] as const) {
      await expect
        .poll(async () => {
          const response = await app.inject({ method: 'PUT', url: `/api/queues/${q}/clean/${status}`, headers: OPERATOR });
          expect(response.statusCode, response.body).toBe(200);
          return (await queue.getJobCounts(status))[status];
        }, { timeout: 20_000, interval: 1_000 })
        .toBe(0);
    }
    expect(await queue.getJobState('evt_done_2')).toBe('unknown');
    const lines = audits();
    expect(lines[0]).toEqual(expect.objectContaining({ user: USER, action: 'clean', queue: queueName, job: 'evt_done_1', result: 204, outcome: 'done' }));
    expect(lines.slice(1).map((l) => `${l.action} ${l.status} ${l.result} ${l.outcome}`)).toEqual(
      expect.arrayContaining(['clean-all completed 200 done', 'clean-all failed 200 done']),
    );
  });

  it('reads: the page, the queue list and a job, with nothing in the audit log', async () => {
    await settled([{ id: 'evt_read', fail: true }]);
    for (const url of ['/', `/queue/${q}`, '/api/queues', `/api/queues/${q}/evt_read`, `/api/queues/${q}/evt_read/logs`]) {
      const response = await app.inject({ method: 'GET', url, headers: { authorization: OPERATOR.authorization } });
      expect(response.statusCode, url).toBe(200);
    }
    expect(audits()).toEqual([]);
  });
});

describe('cross-site requests (CSRF)', () => {
  const retry = `/api/queues/${q}/evt_csrf/retry`;
  const attempts: Array<[string, Record<string, string>, string | undefined, string]> = [
    ['another origin', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, undefined, 'cross_site'],
    ['another port of this host', { origin: 'http://board.test:3000', 'sec-fetch-site': 'same-site' }, undefined, 'cross_site'],
    ['Origin: null', { origin: 'null' }, undefined, 'cross_site'],
    ['no Origin, Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site' }, undefined, 'cross_site'],
    ['no Origin, Sec-Fetch-Site same-site', { 'sec-fetch-site': 'same-site' }, undefined, 'cross_site'],
    ['no Origin and no Sec-Fetch-Site', {}, undefined, 'cross_site'],
    ['a no-cors fetch from this origin', { origin: `http://${HOST}`, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'no-cors' }, undefined, 'cross_site'],
    ['a form post from this origin', { origin: `http://${HOST}`, 'sec-fetch-mode': 'navigate' }, 'x=1', 'cross_site'],
    ['a text/plain body', { origin: `http://${HOST}`, 'content-type': 'text/plain;charset=UTF-8' }, '{}', 'content_type'],
    ['a form body', { origin: `http://${HOST}`, 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', 'content_type'],
    ['a multipart body', { origin: `http://${HOST}`, 'content-type': 'multipart/form-data; boundary=x' }, '--x--', 'content_type'],
    ['a body without a content type', { origin: `http://${HOST}` }, '{}', 'content_type'],
  ];

  it.each(attempts)('refuses a retry with %s', async (_label, headers, payload, reason) => {
    await settled([{ id: 'evt_csrf', fail: true }]);
    const response = await app.inject({
      method: 'PUT',
      url: retry,
      headers: { authorization: OPERATOR.authorization, host: HOST, ...headers },
      ...(payload === undefined ? {} : { payload }),
    });
    expect(response.statusCode, response.body).toBe(403);
    expect(response.json()).toMatchObject({ error: 'forbidden', reason });
    expect(await queue.getJobState('evt_csrf')).toBe('failed');
    expect(audits()).toEqual([expect.objectContaining({ user: USER, action: 'PUT /api/queues/:queueName/:jobId/retry', job: 'evt_csrf', result: 403, outcome: 'refused', reason })]);
  });

  it('refuses the no-cors shape (POST, no body, no content type) from another site, and adds nothing', async () => {
    const response = await app.inject({
      method: 'POST',
      url: `/api/queues/${q}/add`,
      headers: { authorization: OPERATOR.authorization, host: HOST, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' },
    });
    expect(response.statusCode, response.body).toBe(403);
    expect(Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('accepts the same request from the board itself: Origin, or Sec-Fetch-Site without Origin', async () => {
    await settled([{ id: 'evt_csrf', fail: true }, { id: 'evt_csrf_2', fail: true }]);
    const withOrigin = await app.inject({ method: 'PUT', url: retry, headers: { authorization: OPERATOR.authorization, host: HOST, origin: `http://${HOST}` } });
    expect(withOrigin.statusCode, withOrigin.body).toBe(204);
    const withFetchSite = await app.inject({
      method: 'PUT',
      url: `/api/queues/${q}/evt_csrf_2/retry`,
      headers: { authorization: OPERATOR.authorization, host: HOST, 'sec-fetch-site': 'same-origin', ...JSON_BODY },
      payload: '{}',
    });
    expect(withFetchSite.statusCode, withFetchSite.body).toBe(204);
    expect([await queue.getJobState('evt_csrf'), await queue.getJobState('evt_csrf_2')]).toEqual(['waiting', 'waiting']);
  });
});

describe('security headers', () => {
  it('are on the page, the assets, the API and the refusals', async () => {
    const page = await app.inject({ method: 'GET', url: '/', headers: { authorization: OPERATOR.authorization } });
    const asset = /src="([^"]*static\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(asset).toBeDefined();
    const answers = {
      page,
      asset: await app.inject({ method: 'GET', url: `/${asset!.replace(/^\/+/, '')}`, headers: { authorization: OPERATOR.authorization } }),
      api: await app.inject({ method: 'GET', url: '/api/queues', headers: { authorization: OPERATOR.authorization } }),
      unauthorised: await app.inject({ method: 'GET', url: '/api/queues' }),
      refused: await app.inject({ method: 'PUT', url: `/api/queues/${q}/pause`, headers: OPERATOR }),
      notFound: await app.inject({ method: 'GET', url: '/nope', headers: { authorization: OPERATOR.authorization } }),
    };
    expect(Object.values(answers).map((a) => a.statusCode)).toEqual([200, 200, 200, 401, 403, 404]);
    for (const [what, answer] of Object.entries(answers)) {
      const csp = String(answer.headers['content-security-policy']);
      expect(csp, what).toContain("frame-ancestors 'none'");
      expect(csp, what).toContain("script-src 'self'");
      expect(csp, what).toContain("default-src 'self'");
      expect(answer.headers['x-content-type-options'], what).toBe('nosniff');
      expect(answer.headers['x-frame-options'], what).toBe('DENY');
      if (what !== 'asset') expect(answer.headers['cache-control'], what).toBe('no-store');
    }
    expect(answers.asset.headers['cache-control']).not.toBe('no-store');
  });
});
