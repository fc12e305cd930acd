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
    userId: rawUserId && /^\d{1,9}$/.test(rawUserId) ? Number(rawUserId) : null,
    planSlug: rawPlan === undefined ? undefined : catalogSlug(rawPlan, config),
    period: rawPeriod === undefined ? undefined : rawPeriod.toLowerCase() === 'yearly' ? 'yearly' : 'monthly',
  };
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

/** Lower-cased, trimmed, non-empty emails in order, without repeats. */
export function normaliseEmails(...candidates: unknown[]): string[] {
  const emails: string[] = [];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string') continue;
    const email = candidate.trim().toLowerCase();
    if (email.includes('@') && !emails.includes(email)) emails.push(email);
  }
  return emails;
}
