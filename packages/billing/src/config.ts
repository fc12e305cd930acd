export const DEFAULT_PLAN_SLUGS = ['starter', 'pro', 'business'] as const;
export const DEFAULT_METADATA_PREFIX = 'dictia_';

export interface BillingConfig {
  /**
   * The plan catalog metadata is checked against; anything else is stored as `unknown`.
   * @defaultValue ['starter', 'pro', 'business']
   */
  planSlugs: readonly string[];
  /**
   * Prefix of the metadata keys `<prefix>user_id`, `<prefix>plan_slug`, `<prefix>period`.
   * @defaultValue 'dictia_'
   */
  metadataPrefix: string;
}

export const defaultBillingConfig: BillingConfig = {
  planSlugs: DEFAULT_PLAN_SLUGS,
  metadataPrefix: DEFAULT_METADATA_PREFIX,
};
