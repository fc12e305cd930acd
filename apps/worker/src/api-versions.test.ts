import { describe, expect, it, vi } from 'vitest';
import { createRegistry } from '@billing/runtime/metrics';
import { apiVersionWatch, isNewerApiVersion } from './api-versions';
import { createWorkerMetrics } from './metrics';

const SDK = '2026-10-28.endive';

describe('API versions', () => {
  it.each([
    ['2026-11-17.endive', true],
    ['2027-01-28.foxglove', true],
    ['2026-10-28.foxglove', true],
    [SDK, false],
    ['2026-09-30.endive', false],
    ['2024-06-20', false],
    ['not-a-version', false],
  ])('%s is newer than the SDK’s: %s', (version, newer) => {
    expect(isNewerApiVersion(version, SDK)).toBe(newer);
  });

  it('counts every version and logs a newer one once per process', async () => {
    const registry = createRegistry('api-versions');
    const logger = { warn: vi.fn() };
    const watch = apiVersionWatch(SDK, createWorkerMetrics(registry), logger);
    for (const v of [SDK, '2024-06-20', '2027-01-28.foxglove', '2027-01-28.foxglove', SDK, '2027-02-25.foxglove']) watch(v);
    const text = await registry.getSingleMetricAsString('billing_worker_events_by_api_version');
    expect(text).toMatch(/api_version="2026-10-28\.endive"[^\n]*\} 2$/m);
    expect(text).toMatch(/api_version="2024-06-20"[^\n]*\} 1$/m);
    expect(text).toMatch(/api_version="2027-01-28\.foxglove"[^\n]*\} 2$/m);
    expect(logger.warn.mock.calls.map(([fields]) => (fields as { apiVersion: string }).apiVersion)).toEqual([
      '2027-01-28.foxglove',
      '2027-02-25.foxglove',
    ]);
  });
});
