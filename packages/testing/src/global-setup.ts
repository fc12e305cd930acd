import type { TestProject } from 'vitest/node';
import { resolveTestServices } from './services';

import type {} from './provided-context';

/**
 * Vitest global setup: find Postgres and Redis once (embedded Postgres when nothing else is there;
 * no Redis is no error), hand their URLs to every test file. The first line says which Node runs
 * the tests, so a silent fall-back to the machine's own Node shows.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  console.log(`test run on Node ${process.version} (${process.execPath})`);
  const services = await resolveTestServices();
  console.log(`test services: ${services.describe}`);
  project.provide('adminDatabaseUrl', services.adminDatabaseUrl);
  project.provide('redisUrl', services.redisUrl);
  return services.stop;
}
