import { InvalidEventError } from './invalid-event-error';
import { isEntitlements, isLifecycle, type ChangedFrom, type NormalisedEvent, type SubscriptionFacts } from './lifecycle-input';

/**
 * What the rules store of an event must fit its columns, or the event is invalid: a value that
 * Postgres refuses (`22003` for a `created` past bigint, `22008` for a time past timestamptz, `54000`
 * for a text too long to index, `22P05`/`22021` for a NUL) would otherwise fail the event's whole
 * batch and then itself on every attempt, though no retry can help.
 */

/** The latest time stored: 9999-12-31T23:59:59Z (four-digit years, which JavaScript dates and ISO 8601 print as such). */
export const MAX_SECONDS = 253_402_300_799;
/** The earliest: 0001-01-01T00:00:00Z. */
export const MIN_SECONDS = -62_135_596_800;
/** Stripe's ids and names are at most 255 characters; a text much longer cannot be indexed (a btree row holds ~2.7 kB). */
export const MAX_TEXT_LENGTH = 255;

/** Throws `InvalidEventError` naming the first value of the event that no column of the rules holds. */
export function assertStorable(event: NormalisedEvent): void {
  const problems: string[] = [];
  const time = (name: string, value: number | null | undefined) => {
    if (value !== null && value !== undefined && !(Number.isSafeInteger(value) && value >= MIN_SECONDS && value <= MAX_SECONDS))
      problems.push(`${name} ${value} is outside the times stored (years 1 to 9999)`);
  };
  const text = (name: string, value: string | null | undefined) => {
    if (value === null || value === undefined) return;
    if (value.length > MAX_TEXT_LENGTH) problems.push(`${name} is ${value.length} characters long (at most ${MAX_TEXT_LENGTH})`);
    else if (value.includes('\u0000')) problems.push(`${name} contains a NUL character`);
  };
  const facts = (prefix: string, f: Partial<SubscriptionFacts & { status: string }>) => {
    time(`${prefix}current_period_end`, f.currentPeriodEnd);
    time(`${prefix}cancel_at`, f.cancelAt);
    time(`${prefix}trial_end`, f.trialEnd);
    text(`${prefix}price id`, f.priceId);
    text(`${prefix}plan`, f.planSlug);
    text(`${prefix}status`, f.status);
  };

  text('type', event.type);
  text('api_version', event.apiVersion);
  time('created', event.created);
  text('subscription id', event.subscriptionId);
  text('customer id', event.customerId);
  if (isEntitlements(event)) {
    for (const key of event.lookupKeys) text('entitlement lookup_key', key);
  }
  if (isLifecycle(event)) {
    if (event.input.kind === 'snapshot') {
      facts('', { ...event.input.facts, status: event.input.status });
      facts('previous_attributes: ', event.input.from satisfies ChangedFrom);
    } else {
      text('plan', event.input.plan.planSlug);
    }
  }
  if (problems.length > 0) throw new InvalidEventError(`${event.type.slice(0, MAX_TEXT_LENGTH)}: ${problems[0]}`);
}
