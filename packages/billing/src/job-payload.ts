import type { JobSigner, SignedJobData, StripeEvent } from '@billing/queue';
import { minimiseEvent } from './minimise-event';

/**
 * `@billing/billing/job-payload`: what a job carries of an event, for the ingress and the scripts
 * that queue events (no database client behind this subpath). The queue package keeps the
 * envelope — the job's type, shape check, id and signature; which fields of the event go in is the
 * billing domain's to say.
 */
export { minimiseEvent };

/**
 * The data of an event's job: the event minimised to what the lifecycle rules read
 * (`minimiseEvent`), signed with the queue's key (`QUEUE_SIGNING_KEY`) so the worker can tell it
 * from a job nobody verified. Only for an event whose origin is trusted: a delivery whose Stripe
 * signature verified, or one fetched from Stripe's API with our key.
 */
export function jobPayload(signer: JobSigner, event: StripeEvent): SignedJobData {
  return signer.sign(minimiseEvent(event));
}
