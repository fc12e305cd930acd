// Types `inject()` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { redisServerProblem } from '@billing/testing/redis-server';
import { afterAll, describe, it } from 'vitest';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import { expectNothingAcknowledgedLost, reportWithoutAck } from './support/failover-expectations';
import { runSentinelFailover } from './support/sentinel-failover';

const skip = redisServerProblem();
if (skip) console.log(`skipped: ${skip}`);
const cleanup = createCleanupStack();
afterAll(() => cleanup.runAll(), 60_000);

describe.skipIf(skip)('topology: Redis Sentinel, the primary SIGKILLed during a stream of webhooks (replication 0.4 s behind)', () => {
  it('with REDIS_MIN_REPLICAS_ACK=1 every 200 survives the failover and is applied once; 503 meanwhile; 200 again without restarts', async () => {
    const outcome = await runSentinelFailover('primary SIGKILLed', cleanup);
    console.log(outcome.withAck.line);
    console.log(outcome.withoutAck.line);
    expectNothingAcknowledgedLost(outcome.withAck);
    reportWithoutAck(outcome.withoutAck);
  }, 150_000);
});
