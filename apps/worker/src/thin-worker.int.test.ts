import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultBillingConfig } from '@billing/billing';
import { thinJobPayload } from '@billing/billing/job-payload';
import { CORPUS_PLAN_PRICES, LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';
import { startFakeStripeApi, type FakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { thinEvent } from '@billing/stripe-simulator/thin-events';
import { historyDifferences, prepareHistory } from '@billing/testing/corpus-harness';
import { testSigner } from '@billing/testing/job-signing';
import { describeEachBackend } from '@billing/testing/test-queue';
import { waitFor } from '@billing/testing/wait-for';
import { useTestWorker } from '../test-support/test-worker';
import { stripeThinFetcher } from './stripe-thin-fetcher';
import type { ThinObjectFetcher } from './thin-events';

/** A thin event through a real queue and worker: Stripe's 429s delay the job without spending its attempts. */
describeEachBackend('a thin event rate-limited by Stripe', (backend) => {
  let api: FakeStripeApi;
  let fetcher: ThinObjectFetcher | undefined;
  beforeAll(async () => {
    api = await startFakeStripeApi({ apiKeys: ['sk_test_thin_worker'] });
    fetcher = stripeThinFetcher({ secretKey: 'sk_test_thin_worker', apiBase: api.url });
  });
  afterAll(async () => {
    await api?.close();
  });
  const w = useTestWorker('thin_429', backend, {
    config: { ...defaultBillingConfig, planPrices: CORPUS_PLAN_PRICES },
    fetchThinObject: (kind, id) => fetcher!(kind, id),
  });

  it('waits out two 429s (Retry-After: 1 s) with its one attempt intact, then applies the subscription', async () => {
    const card = LIFECYCLE_CORPUS.find((c) => c.name === 'card checkout')!;
    const prepared = await prepareHistory(w.t.sql, { ...card, route: 'bound' }, Math.floor(Date.now() / 1000) - 100 * 86_400);
    api.loadHistory(prepared.built);
    const sub = prepared.built.subscriptions[0]!.ids.subscription;
    api.faults.rateLimit({ path: `/v1/subscriptions/${sub}`, count: 2, retryAfterSeconds: 1 });
    const thin = thinEvent({ type: 'v1.customer.subscription.updated', related: { id: sub, type: 'subscription' } });
    // One attempt only: a 429 that spent it would fail the job for good.
    await w.queue.add(thin.type, thinJobPayload(testSigner, thin), { jobId: thin.id, attempts: 1 });
    await waitFor(async () => (await (await w.queue.getJob(thin.id))?.getState()) === 'completed', 'the thin job completed', 20_000);
    const job = await w.queue.getJob(thin.id);
    expect(job?.returnvalue).toEqual({ outcome: 'applied' });
    // Three starts, one attempt made: the one that completed (BullMQ counts it); the 429s counted none.
    expect(job?.attemptsStarted).toBe(3);
    expect(job?.attemptsMade).toBe(1);
    expect(api.requestsTo(`/v1/subscriptions/${sub}`).map((r) => r.status)).toEqual([429, 429, 200]);
    expect(await historyDifferences(w.t.sql, prepared)).toEqual([]);
    expect(w.lines.filter((l) => l.includes('Stripe rate-limited the fetch'))).toHaveLength(2);
  });
});
