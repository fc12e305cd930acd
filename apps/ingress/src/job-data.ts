import { jobPayload } from '@billing/billing/job-payload';
import type { JobSigner, StripeEventJobData } from '@billing/queue';

/** A delivery whose signature verified: what job data may be built from. */
export interface VerifiedDelivery {
  /** The parsed event, shape-checked (`invalidEventReason`). */
  event: StripeEventJobData;
  /** The exact bytes Stripe signed. */
  body: Buffer;
  /** The `Stripe-Signature` header that verified them. */
  signature: string;
  /** Which configured secret matched. */
  secretIndex: number;
}

/** Builds a job's data from a verified delivery: the one place that decides what a job carries. */
export type JobDataBuilder = (delivery: VerifiedDelivery) => StripeEventJobData;

/**
 * The queue contract: what the worker reads of the verified event (`jobPayload`: no names,
 * addresses or payment details in Redis), signed with the queue's key so the worker can tell it
 * from a job nobody verified.
 */
export function signedJobData(signer: JobSigner): JobDataBuilder {
  return (delivery) => jobPayload(signer, delivery.event);
}
