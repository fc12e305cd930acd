import type { JobSigner, SignedJobData, StripeEvent, ThinEvent } from '@billing/queue';
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

/**
 * The data of a thin event's job: the notification's fields the worker reads (no `changes`, which
 * may hold personal data and which the worker does not read: it fetches the object), signed like
 * any job. The signer covers any JSON object; its type names the snapshot event only.
 */
export function thinJobPayload(signer: JobSigner, event: ThinEvent): SignedJobData {
  const kept: ThinEvent = {
    id: event.id,
    object: event.object,
    type: event.type,
    created: event.created,
    livemode: event.livemode === true,
    related_object: event.related_object ?? null,
    snapshot_event: event.snapshot_event ?? null,
  };
  return signer.sign(kept as unknown as StripeEvent);
}
