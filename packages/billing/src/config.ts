export const DEFAULT_PLAN_SLUGS = ['starter', 'pro', 'business'] as const;
export const DEFAULT_METADATA_PREFIX = 'dictia_';

export interface BillingConfig {
  /**
   * The plan catalog; a slug outside it is stored as `unknown`.
   * @defaultValue ['starter', 'pro', 'business']
   */
  planSlugs: readonly string[];
  /**
   * Prefix of the metadata keys `<prefix>user_id`, `<prefix>plan_slug`, `<prefix>period`.
   * @defaultValue 'dictia_'
   */
  metadataPrefix: string;
  /**
   * The explicit price → plan map (`PLAN_PRICES`), checked before the price's own metadata and lookup key.
   * @defaultValue an empty map
   */
  planPrices: ReadonlyMap<string, string>;
}

export const defaultBillingConfig: BillingConfig = {
  planSlugs: DEFAULT_PLAN_SLUGS,
  metadataPrefix: DEFAULT_METADATA_PREFIX,
  planPrices: new Map(),
};
