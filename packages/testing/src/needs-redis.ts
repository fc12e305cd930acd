import { describe, inject } from 'vitest';
import { redisServerProblem } from './redis-server';

import type {} from './provided-context';

/** What a Redis-only test file needs: the run's Redis (`inject('redisUrl')`), `redis-server` to start servers of its own, or both. */
export interface RedisNeeds {
  redis?: boolean;
  redisServer?: boolean;
}

/** Why this run cannot give a file what it needs, or `undefined` when it can. */
export function missingRedis(needs: RedisNeeds = { redis: true }): string | undefined {
  if (needs.redis && !inject('redisUrl')) {
    return 'needs Redis and this run has none (set TEST_REDIS_URL, run one at 127.0.0.1:6379, or make a Docker engine reachable)';
  }
  if (needs.redisServer) {
    const problem = redisServerProblem();
    if (problem) return `starts redis-server processes of its own: ${problem}`;
  }
  return undefined;
}

/**
 * vitest's `describe` for a Redis-only file, or `describe.skip` when the run lacks what it needs —
 * then it prints one line saying why. At the top of such a file, in place of vitest's `describe`:
 *
 *     const describe = describeIfRedis({ redis: true, redisServer: true });
 */
export function describeIfRedis(needs: RedisNeeds = { redis: true }): typeof describe {
  const reason = missingRedis(needs);
  if (reason === undefined) return describe;
  console.log(`skipped: ${reason}`);
  return describe.skip as typeof describe;
}

/** `describe(name, fn)` that skips, with one line saying why, when the run has no Redis. */
export function describeWithRedis(name: string, fn: () => void): void {
  describeIfRedis({ redis: true })(name, fn);
}
