import type { StripeEventJobData } from '@billing/queue';

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

/** Today's queue contract: the verified event exactly as Stripe sent it. */
export const verifiedEventAsJobData: JobDataBuilder = (delivery) => delivery.event;
