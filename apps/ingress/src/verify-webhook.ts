import { invalidEventReason, invalidThinEventReason, type StripeEventJobData, type ThinEvent } from '@billing/queue';
import Stripe from 'stripe';

/** Stripe's default: only the age of the signed timestamp is checked; future ones pass. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export type SignatureFailure = 'missing_header' | 'malformed_header' | 'no_match' | 'stale_timestamp';

export type Verification<E = StripeEventJobData> =
  | { ok: true; event: E; secretIndex: number }
  | { ok: false; error: 'invalid_signature'; reason: SignatureFailure }
  | { ok: false; error: 'invalid_payload'; reason: string; secretIndex: number };

/** A window wider than any real timestamp's age: only to learn whether a signature matches at all. */
const ANY_AGE_SECONDS = 100 * 365 * 86_400;

/**
 * Verifies the raw body against each secret in turn (several while rotating) with Stripe's own
 * `constructEvent`, then checks that what was signed is an event we can queue. Why a delivery is
 * refused is decided from the header's shape and from the SDK's answers — never from the text of
 * its error messages, which an SDK upgrade may reword.
 */
export function verifyWebhook(
  stripe: Stripe,
  body: Buffer | undefined,
  header: string | string[] | undefined,
  secrets: readonly string[],
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): Verification {
  const parse: SignedParser = (payload, signature, secret, tolerance) =>
    stripe.webhooks.constructEvent(payload, signature, secret, tolerance);
  return verifySigned(parse, invalidEventReason, body, header, secrets, toleranceSeconds) as Verification;
}

/**
 * The same for a thin event (an event destination's delivery), with the SDK's
 * `parseEventNotification`: the same header checks, secrets and answers. What is queued is the
 * notification as signed (plain JSON), not the SDK's object with its fetch methods.
 */
export function verifyThinEvent(
  stripe: Stripe,
  body: Buffer | undefined,
  header: string | string[] | undefined,
  secrets: readonly string[],
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): Verification<ThinEvent> {
  const parse: SignedParser = (payload, signature, secret, tolerance) => {
    stripe.parseEventNotification(payload, signature, secret, tolerance);
    return JSON.parse(payload.toString('utf8')) as unknown;
  };
  return verifySigned(parse, invalidThinEventReason, body, header, secrets, toleranceSeconds) as Verification<ThinEvent>;
}

/** Verifies `header` over `payload` with `secret` (throwing the SDK's signature error), then parses what was signed. */
type SignedParser = (payload: Buffer, header: string, secret: string, toleranceSeconds: number) => unknown;

function verifySigned(
  parse: SignedParser,
  invalidReason: (value: unknown) => string | undefined,
  body: Buffer | undefined,
  header: string | string[] | undefined,
  secrets: readonly string[],
  toleranceSeconds: number,
): Verification<unknown> {
  if (typeof header !== 'string' || header.trim() === '') return signatureFailure('missing_header');
  // Stripe's SDK reads `t` with parseInt and never checks the age of NaN, so `t=NaN` with an HMAC
  // over "NaN.<body>" would pass without any timestamp; accept exactly one `t` of digits only.
  if (!hasOneNumericTimestamp(header) || !hasV1Signature(header)) return signatureFailure('malformed_header');
  const payload = body ?? Buffer.alloc(0);
  for (const [secretIndex, secret] of secrets.entries()) {
    let parsed: unknown;
    try {
      parsed = parse(payload, header, secret, toleranceSeconds);
    } catch (error) {
      if (!(error instanceof Stripe.errors.StripeSignatureVerificationError)) {
        // The signature matched (verification runs first); only parsing what was signed failed.
        const reason = error instanceof SyntaxError ? 'body is not valid JSON' : 'not a webhook event';
        return { ok: false, error: 'invalid_payload', reason, secretIndex };
      }
      // A signature that matches once the age is not checked has an old timestamp: a replay,
      // whichever secret comes next.
      if (matchesAtAnyAge(parse, payload, header, secret)) return signatureFailure('stale_timestamp');
      continue;
    }
    const reason = invalidReason(parsed);
    if (reason !== undefined) return { ok: false, error: 'invalid_payload', reason, secretIndex };
    return { ok: true, event: parsed, secretIndex };
  }
  return signatureFailure('no_match');
}

function hasOneNumericTimestamp(header: string): boolean {
  const timestamps = header.split(',').filter((item) => item.trimStart().startsWith('t='));
  return timestamps.length === 1 && /^\d{1,12}$/.test(timestamps[0]!.trim().slice(2));
}

function signatureFailure(reason: SignatureFailure): Verification<never> {
  return { ok: false, error: 'invalid_signature', reason };
}

function hasV1Signature(header: string): boolean {
  return header.split(',').some((item) => /^v1=[0-9a-f]+$/i.test(item.trim()));
}

function matchesAtAnyAge(parse: SignedParser, payload: Buffer, header: string, secret: string): boolean {
  try {
    parse(payload, header, secret, ANY_AGE_SECONDS);
    return true;
  } catch (error) {
    // Matched, but what was signed is not an event: the age decides the answer all the same.
    return !(error instanceof Stripe.errors.StripeSignatureVerificationError);
  }
}
