import type { BillingConfig } from './config';
import type { Period } from './lifecycle-input';
import { isObject } from './stripe-object';

export interface BillingMetadata {
  userId: number | null;
  /** In the catalog, else `unknown`; `undefined` when the metadata has no plan key. */
  planSlug: string | undefined;
  /** `monthly`/`yearly`, anything else `monthly`; `undefined` when the metadata has no period key. */
  period: Period | undefined;
}

/** Reads `<prefix>user_id`, `<prefix>plan_slug`, `<prefix>period` under the catalog rules. */
export function billingMetadata(metadata: unknown, config: BillingConfig): BillingMetadata {
  const rawUserId = metadataValue(metadata, config, 'user_id');
  const rawPlan = metadataValue(metadata, config, 'plan_slug');
  const rawPeriod = metadataValue(metadata, config, 'period');
  return {
    userId: userIdOf(rawUserId),
    planSlug: rawPlan === undefined ? undefined : catalogSlug(rawPlan, config),
    period: rawPeriod === undefined ? undefined : rawPeriod.toLowerCase() === 'yearly' ? 'yearly' : 'monthly',
  };
}

/** `users.id` is an `integer`: a number it cannot hold names no user (metadata is the host's free text; the event stays valid). */
const MAX_USER_ID = 2_147_483_647;

function userIdOf(raw: string | undefined): number | null {
  if (raw === undefined || !/^\d{1,10}$/.test(raw)) return null;
  const id = Number(raw);
  return id >= 1 && id <= MAX_USER_ID ? id : null;
}

/** `<prefix><key>` of a metadata object, trimmed; `undefined` when absent. */
export function metadataValue(metadata: unknown, config: BillingConfig, key: string): string | undefined {
  const value = isObject(metadata) ? metadata[`${config.metadataPrefix}${key}`] : undefined;
  return typeof value === 'string' ? value.trim() : undefined;
}

/** The slug when it is in the catalog (case and spaces forgiven), else `unknown`. */
export function catalogSlug(slug: string, config: BillingConfig): string {
  const value = slug.trim().toLowerCase();
  return config.planSlugs.includes(value) ? value : 'unknown';
}

/** An address is at most 254 characters (RFC 5321's path limit less its brackets). */
const MAX_EMAIL_LENGTH = 254;

/** Lower-cased, trimmed emails in order, without repeats; a text that cannot be an address is no candidate. */
export function normaliseEmails(...candidates: unknown[]): string[] {
  const emails: string[] = [];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string') continue;
    const email = candidate.trim().toLowerCase();
    if (email.includes('@') && email.length <= MAX_EMAIL_LENGTH && !email.includes('\u0000') && !emails.includes(email)) emails.push(email);
  }
  return emails;
}
