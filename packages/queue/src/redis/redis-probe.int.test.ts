import { freePort } from '@billing/testing/ports';
import { redisServerProblem, startPrivateRedis, type PrivateRedis } from '@billing/testing/redis-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisProblem } from './redis-probe';

const skip = redisServerProblem();
if (skip) console.log(`skipped: ${skip}`);

describe.skipIf(skip)('redisProblem', () => {
  let open: PrivateRedis;
  let guarded: PrivateRedis;

  beforeAll(async () => {
    [open, guarded] = await Promise.all([startPrivateRedis(), startPrivateRedis({ password: 'probe pass/1' })]);
  });
  afterAll(async () => {
    await Promise.all([open?.dispose(), guarded?.dispose()]);
  });

  it('is undefined for a server that answers PONG, with or without a password in the URL', async () => {
    expect(await redisProblem(open.url)).toBeUndefined();
    expect(guarded.url).toContain('@'); // the URL carries the (encoded) password
    expect(await redisProblem(guarded.url)).toBeUndefined();
  });

  it("names the server's refusal: no password, a wrong one", async () => {
    expect(await redisProblem(`redis://127.0.0.1:${guarded.port}`)).toMatch(/^NOAUTH/);
    expect(await redisProblem(`redis://:wrong@127.0.0.1:${guarded.port}`)).toMatch(/^WRONGPASS/);
  });

  it('names the socket error when nothing listens', async () => {
    expect(await redisProblem(`redis://127.0.0.1:${await freePort()}`)).toBe('ECONNREFUSED');
  });
});
