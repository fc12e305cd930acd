import { jobPayload } from '@billing/billing/job-payload';
import { jobSigner, type SignedJobData, type StripeEvent } from '@billing/queue';

/** The queue signing key of every test ingress, worker and script (`QUEUE_SIGNING_KEY`). */
export const TEST_QUEUE_SIGNING_KEY = 'test-queue-signing-key-0123456789abcdef';

export const testSigner = jobSigner([TEST_QUEUE_SIGNING_KEY]);

/** An event as the ingress would queue it: minimised and signed with the test key. */
export function signedJob(event: StripeEvent): SignedJobData {
  return jobPayload(testSigner, event);
}
