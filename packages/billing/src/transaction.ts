import type { Database } from '@billing/db/client';

/** A Drizzle transaction on the billing schema. */
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
