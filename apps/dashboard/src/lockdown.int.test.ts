import { describe, expect, it } from 'vitest';
import { buildDashboard } from './app';
import { JSON_BODY, OPERATOR, PASSWORD, USER, useLockedBoard } from '../test-support/locked-board';

// The dashboard lets operators read, retry, promote and clean jobs, nothing else (docs/design.md),
// and says in the log who did what.
const board = useLockedBoard('dashboard-lockdown');

describe('what an operator cannot do', () => {
  const failed = 'evt_lockdown_failed';
  const completed = 'evt_lockdown_completed';
  const waiting = 'evt_lockdown_waiting';
  const delayed = 'evt_lockdown_delayed';

  /** Bull Board 9.10's routes that add, edit, remove or reconfigure, and actions outside the policy. */
  const blocked: Array<{
    what: string;
    method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
    url: string;
    body?: unknown;
    status?: number;
    reason?: string;
  }> = [
    {
      what: 'add a job',
      method: 'POST',
      url: `/api/queues/${board.q}/add`,
      body: { name: 'checkout.session.completed', data: { id: 'evt_minted' }, options: {} },
    },
    { what: 'edit a waiting job', method: 'PATCH', url: `/api/queues/${board.q}/${waiting}/update-data`, body: { id: 'evt_tampered' } },
    { what: 'edit a failed job', method: 'PATCH', url: `/api/queues/${board.q}/${failed}/update-data`, body: { id: 'evt_tampered' } },
    { what: 'reschedule a delayed job', method: 'PATCH', url: `/api/queues/${board.q}/${delayed}/delay`, body: { delay: 1 } },
    { what: 'reprioritise a job', method: 'PATCH', url: `/api/queues/${board.q}/${waiting}/priority`, body: { priority: 5 } },
    { what: 'obliterate the queue', method: 'PUT', url: `/api/queues/${board.q}/obliterate`, body: { force: true } },
    { what: 'empty the queue', method: 'PUT', url: `/api/queues/${board.q}/empty` },
    { what: 'pause the queue', method: 'PUT', url: `/api/queues/${board.q}/pause` },
    { what: 'resume the queue', method: 'PUT', url: `/api/queues/${board.q}/resume` },
    { what: 'pause every queue', method: 'PUT', url: '/api/queues/pause' },
    { what: 'resume every queue', method: 'PUT', url: '/api/queues/resume' },
    { what: 'set the global concurrency', method: 'PUT', url: `/api/queues/${board.q}/concurrency`, body: { concurrency: 1 } },
    { what: 'set a rate limit', method: 'PUT', url: `/api/queues/${board.q}/rate-limit`, body: { max: 1, duration: 60_000 } },
    { what: 'release the rate limit', method: 'PUT', url: `/api/queues/${board.q}/rate-limit/release` },
    { what: 'remove a job scheduler', method: 'PUT', url: `/api/queues/${board.q}/job-schedulers/s1/remove` },
    { what: 'run a job scheduler', method: 'PUT', url: `/api/queues/${board.q}/job-schedulers/s1/run` },
    { what: 'edit a job scheduler', method: 'PATCH', url: `/api/queues/${board.q}/job-schedulers/s1`, body: { pattern: '* * * * *' } },
    { what: "remove a job's children", method: 'PUT', url: `/api/queues/${board.q}/${waiting}/remove-unprocessed-children` },
    { what: 'clean the waiting jobs', method: 'PUT', url: `/api/queues/${board.q}/clean/waiting` },
    { what: 'clean the delayed jobs', method: 'PUT', url: `/api/queues/${board.q}/clean/delayed` },
    { what: 'clean the active jobs', method: 'PUT', url: `/api/queues/${board.q}/clean/active` },
    { what: 'clean a waiting job', method: 'PUT', url: `/api/queues/${board.q}/${waiting}/clean`, reason: 'wrong_state' },
    { what: 'clean a delayed job', method: 'PUT', url: `/api/queues/${board.q}/${delayed}/clean`, reason: 'wrong_state' },
    { what: 'retry the completed jobs', method: 'PUT', url: `/api/queues/${board.q}/retry/completed` },
    { what: 'retry a completed job', method: 'PUT', url: `/api/queues/${board.q}/${completed}/retry`, status: 400, reason: 'wrong_state' },
    { what: 'promote a waiting job', method: 'PUT', url: `/api/queues/${board.q}/${waiting}/promote`, status: 400, reason: 'wrong_state' },
    { what: 'DELETE a queue (no such route)', method: 'DELETE', url: `/api/queues/${board.q}` },
    { what: 'POST a retry (no such route)', method: 'POST', url: `/api/queues/${board.q}/${failed}/retry`, body: {} },
  ];

  it.each(blocked)(
    'refuses to $what, and nothing changes in Redis',
    async ({ method, url, body, status = 403, reason = 'not_allowed' }) => {
      await board.settled([
        { id: failed, fail: true },
        { id: completed, fail: false },
      ]);
      await board.queue().add('invoice.paid', { id: waiting, note: 'original' }, { jobId: waiting });
      await board.queue().add('invoice.paid', { id: delayed, note: 'original' }, { jobId: delayed, delay: 3_600_000 });
      const ids = [failed, completed, waiting, delayed, 'evt_minted'];
      const before = await board.snapshot(ids);

      const response = await board.app().inject({
        method,
        url,
        headers: body === undefined ? OPERATOR : { ...OPERATOR, ...JSON_BODY },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });

      expect(response.statusCode, response.body).toBe(status);
      expect(response.json()).toMatchObject({ reason, message: expect.any(String) });
      expect(await board.snapshot(ids)).toEqual(before);
      expect(board.audits()).toEqual([expect.objectContaining({ user: USER, result: status, outcome: 'refused', reason })]);
    },
  );

  it('refuses a route Bull Board adds in an upgrade until it is listed', async () => {
    const upgraded = await buildDashboard({ queues: [board.queue()], user: USER, password: PASSWORD });
    let reached = 0;
    upgraded.put('/api/queues/:queueName/brand-new-action', async () => ({ done: ++reached }));
    upgraded.get('/api/brand-new-read', async () => ({ done: ++reached }));
    try {
      const action = await upgraded.inject({ method: 'PUT', url: `/api/queues/${board.q}/brand-new-action`, headers: OPERATOR });
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
    await board.settled([{ id: 'evt_retry_one', fail: true }]);
    const response = await board.app().inject({ method: 'PUT', url: `/api/queues/${board.q}/evt_retry_one/retry`, headers: OPERATOR });
    expect(response.statusCode, response.body).toBe(204);
    expect(await board.queue().getJobState('evt_retry_one')).toBe('waiting');
    expect(board.audits()).toEqual([
      expect.objectContaining({
        user: USER,
        client: '127.0.0.1',
        action: 'retry',
        queue: board.queueName,
        job: 'evt_retry_one',
        result: 204,
        outcome: 'done',
      }),
    ]);
  });

  it('retries every failed job, and the line says how many', async () => {
    await board.settled([
      { id: 'evt_retry_a', fail: true },
      { id: 'evt_retry_b', fail: true },
      { id: 'evt_retry_c', fail: false },
    ]);
    const response = await board.app().inject({ method: 'PUT', url: `/api/queues/${board.q}/retry/failed`, headers: OPERATOR });
    expect(response.statusCode, response.body).toBe(200);
    expect(await Promise.all(['evt_retry_a', 'evt_retry_b', 'evt_retry_c'].map((id) => board.queue().getJobState(id)))).toEqual([
      'waiting',
      'waiting',
      'completed',
    ]);
    expect(board.audits()).toEqual([
      expect.objectContaining({
        user: USER,
        action: 'retry-all',
        queue: board.queueName,
        status: 'failed',
        result: 200,
        outcome: 'done',
        retried: 2,
        skipped: 0,
      }),
    ]);
  });

  it('promotes a delayed job, and every delayed job', async () => {
    await board.queue().add('invoice.paid', { id: 'evt_later_1' }, { jobId: 'evt_later_1', delay: 3_600_000 });
    await board.queue().add('invoice.paid', { id: 'evt_later_2' }, { jobId: 'evt_later_2', delay: 3_600_000 });
    const one = await board.app().inject({ method: 'PUT', url: `/api/queues/${board.q}/evt_later_1/promote`, headers: OPERATOR });
    expect(one.statusCode, one.body).toBe(204);
    expect(await board.queue().getJobState('evt_later_1')).toBe('waiting');
    expect(await board.queue().getJobState('evt_later_2')).toBe('delayed');
    const all = await board.app().inject({ method: 'PUT', url: `/api/queues/${board.q}/promote`, headers: OPERATOR });
    expect(all.statusCode, all.body).toBe(200);
    expect(await board.queue().getJobState('evt_later_2')).toBe('waiting');
    expect(board.audits()).toEqual([
      expect.objectContaining({ user: USER, action: 'promote', queue: board.queueName, job: 'evt_later_1', result: 204, outcome: 'done' }),
      expect.objectContaining({ user: USER, action: 'promote-all', queue: board.queueName, result: 200, outcome: 'done' }),
    ]);
  });

  it('cleans a completed job, and the completed and failed jobs', async () => {
    await board.settled([
      { id: 'evt_done_1', fail: false },
      { id: 'evt_done_2', fail: false },
      { id: 'evt_broken', fail: true },
    ]);
    const one = await board.app().inject({ method: 'PUT', url: `/api/queues/${board.q}/evt_done_1/clean`, headers: OPERATOR });
    expect(one.statusCode, one.body).toBe(204);
    expect(await board.queue().getJobState('evt_done_1')).toBe('unknown');

    // Bull Board cleans only jobs finished more than 5 s ago: ask until they are that old.
    for (const status of ['completed', 'failed'] as const) {
      await expect
        .poll(
          async () => {
            const response = await board.app().inject({ method: 'PUT', url: `/api/queues/${board.q}/clean/${status}`, headers: OPERATOR });
            expect(response.statusCode, response.body).toBe(200);
            return (await board.queue().getJobCounts(status))[status];
          },
          { timeout: 20_000, interval: 1_000 },
        )
        .toBe(0);
    }
    expect(await board.queue().getJobState('evt_done_2')).toBe('unknown');
    const lines = board.audits();
    expect(lines[0]).toEqual(
      expect.objectContaining({ user: USER, action: 'clean', queue: board.queueName, job: 'evt_done_1', result: 204, outcome: 'done' }),
    );
    expect(lines.slice(1).map((l) => `${l.action} ${l.status} ${l.result} ${l.outcome}`)).toEqual(
      expect.arrayContaining(['clean-all completed 200 done', 'clean-all failed 200 done']),
    );
  });

  it('reads: the page, the queue list and a job, with nothing in the audit log', async () => {
    await board.settled([{ id: 'evt_read', fail: true }]);
    for (const url of [
      '/',
      `/queue/${board.q}`,
      '/api/queues',
      `/api/queues/${board.q}/evt_read`,
      `/api/queues/${board.q}/evt_read/logs`,
    ]) {
      const response = await board.app().inject({ method: 'GET', url, headers: { authorization: OPERATOR.authorization } });
      expect(response.statusCode, url).toBe(200);
    }
    expect(board.audits()).toEqual([]);
  });
});
