import type { TestProject } from 'vitest/node';
import { resolveTestServices } from './services';

import type {} from './provided-context';

/** Vitest global setup: find Postgres and Redis once, hand their URLs to every test file. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await resolveTestServices();
  console.log(`test services: ${services.describe}`);
  project.provide('adminDatabaseUrl', services.adminDatabaseUrl);
  project.provide('redisUrl', services.redisUrl);
  return services.stop;
}
