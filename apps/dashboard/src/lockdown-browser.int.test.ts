import { describe, expect, it } from 'vitest';
import { HOST, JSON_BODY, OPERATOR, USER, useLockedBoard } from '../test-support/locked-board';

// The dashboard acts only on requests from the board's own page (cross-site requests are
// refused) and answers with the headers a browser needs to keep the page to itself.
const board = useLockedBoard('dashboard-browser');

describe('cross-site requests (CSRF)', () => {
  const retry = `/api/queues/${board.q}/evt_csrf/retry`;
  const attempts: Array<[string, Record<string, string>, string | undefined, string]> = [
    ['another origin', { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, undefined, 'cross_site'],
    ['another port of this host', { origin: 'http://board.test:3000', 'sec-fetch-site': 'same-site' }, undefined, 'cross_site'],
    ['Origin: null', { origin: 'null' }, undefined, 'cross_site'],
    ['no Origin, Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site' }, undefined, 'cross_site'],
    ['no Origin, Sec-Fetch-Site same-site', { 'sec-fetch-site': 'same-site' }, undefined, 'cross_site'],
    ['no Origin and no Sec-Fetch-Site', {}, undefined, 'cross_site'],
    [
      'a no-cors fetch from this origin',
      { origin: `http://${HOST}`, 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'no-cors' },
      undefined,
      'cross_site',
    ],
    ['a form post from this origin', { origin: `http://${HOST}`, 'sec-fetch-mode': 'navigate' }, 'x=1', 'cross_site'],
    ['a text/plain body', { origin: `http://${HOST}`, 'content-type': 'text/plain;charset=UTF-8' }, '{}', 'content_type'],
    ['a form body', { origin: `http://${HOST}`, 'content-type': 'application/x-www-form-urlencoded' }, 'a=1', 'content_type'],
    ['a multipart body', { origin: `http://${HOST}`, 'content-type': 'multipart/form-data; boundary=x' }, '--x--', 'content_type'],
    ['a body without a content type', { origin: `http://${HOST}` }, '{}', 'content_type'],
  ];

  it.each(attempts)('refuses a retry with %s', async (_label, headers, payload, reason) => {
    await board.settled([{ id: 'evt_csrf', fail: true }]);
    const response = await board.app().inject({
      method: 'PUT',
      url: retry,
      headers: { authorization: OPERATOR.authorization, host: HOST, ...headers },
      ...(payload === undefined ? {} : { payload }),
    });
    expect(response.statusCode, response.body).toBe(403);
    expect(response.json()).toMatchObject({ error: 'forbidden', reason });
    expect(await board.queue().getJobState('evt_csrf')).toBe('failed');
    expect(board.audits()).toEqual([
      expect.objectContaining({
        user: USER,
        action: 'PUT /api/queues/:queueName/:jobId/retry',
        job: 'evt_csrf',
        result: 403,
        outcome: 'refused',
        reason,
      }),
    ]);
  });

  it('refuses the no-cors shape (POST, no body, no content type) from another site, and adds nothing', async () => {
    const response = await board.app().inject({
      method: 'POST',
      url: `/api/queues/${board.q}/add`,
      headers: {
        authorization: OPERATOR.authorization,
        host: HOST,
        origin: 'https://evil.example',
        'sec-fetch-site': 'cross-site',
        'sec-fetch-mode': 'no-cors',
      },
    });
    expect(response.statusCode, response.body).toBe(403);
    expect(Object.values(await board.queue().getJobCounts()).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('accepts the same request from the board itself: Origin, or Sec-Fetch-Site without Origin', async () => {
    await board.settled([
      { id: 'evt_csrf', fail: true },
      { id: 'evt_csrf_2', fail: true },
    ]);
    const withOrigin = await board
      .app()
      .inject({ method: 'PUT', url: retry, headers: { authorization: OPERATOR.authorization, host: HOST, origin: `http://${HOST}` } });
    expect(withOrigin.statusCode, withOrigin.body).toBe(204);
    const withFetchSite = await board.app().inject({
      method: 'PUT',
      url: `/api/queues/${board.q}/evt_csrf_2/retry`,
      headers: { authorization: OPERATOR.authorization, host: HOST, 'sec-fetch-site': 'same-origin', ...JSON_BODY },
      payload: '{}',
    });
    expect(withFetchSite.statusCode, withFetchSite.body).toBe(204);
    expect([await board.queue().getJobState('evt_csrf'), await board.queue().getJobState('evt_csrf_2')]).toEqual(['waiting', 'waiting']);
  });
});

describe('security headers', () => {
  it('are on the page, the assets, the API and the refusals', async () => {
    const page = await board.app().inject({ method: 'GET', url: '/', headers: { authorization: OPERATOR.authorization } });
    const asset = /src="([^"]*static\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(asset).toBeDefined();
    const answers = {
      page,
      asset: await board
        .app()
        .inject({ method: 'GET', url: `/${asset!.replace(/^\/+/, '')}`, headers: { authorization: OPERATOR.authorization } }),
      api: await board.app().inject({ method: 'GET', url: '/api/queues', headers: { authorization: OPERATOR.authorization } }),
      unauthorised: await board.app().inject({ method: 'GET', url: '/api/queues' }),
      refused: await board.app().inject({ method: 'PUT', url: `/api/queues/${board.q}/pause`, headers: OPERATOR }),
      notFound: await board.app().inject({ method: 'GET', url: '/nope', headers: { authorization: OPERATOR.authorization } }),
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
