import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dashboardEnvShape } from '@billing/dashboard/env';
import { ingressEnvShape } from '@billing/ingress/env';
import { workerEnvShape } from '@billing/worker/env';

// Every variable an app reads is documented where an operator looks: `.env.example` (each with its
// default) and docs/configuration.md (what it does). The apps' env shapes are the source.
const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const variables = [...new Set([...Object.keys(ingressEnvShape), ...Object.keys(workerEnvShape), ...Object.keys(dashboardEnvShape)])].sort();

describe('environment documentation', () => {
  it('reads the variables from the apps', () => {
    expect(variables).toContain('DATABASE_URL');
    expect(variables).toContain('STRIPE_WEBHOOK_SECRET');
    expect(variables).toContain('DASHBOARD_PASSWORD');
  });

  it.each([['.env.example'], ['docs/configuration.md']])('%s names every variable', (file) => {
    const text = read(file);
    expect(variables.filter((name) => !new RegExp(`\\b${name}\\b`).test(text))).toEqual([]);
  });
});
