import { readFileSync } from 'node:fs';
import type { Sql } from '@billing/db/client';
import type { EventQueue } from '@billing/queue';
import { createRegistry } from '@billing/runtime/metrics';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createIngressMetrics } from '@billing/ingress/metrics';
import { createWorkerMetrics, registerOutboxGauges, registerQueueGauges } from '@billing/worker/metrics';
import { registerReconcileGauges } from '@billing/worker/reconcile-schedule';

interface Rule {
  alert: string;
  expr: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string };
}

const rules = (
  parse(readFileSync(new URL('../docs/alerts.yml', import.meta.url), 'utf8')) as { groups: { rules: Rule[] }[] }
).groups.flatMap((g) => g.rules);

/** Every metric the apps register, with its label names (the queue gauges only read Redis when scraped). */
function registeredMetrics(): Map<string, string[]> {
  const ingress = createRegistry('ingress');
  createIngressMetrics(ingress);
  const worker = createRegistry('worker');
  createWorkerMetrics(worker);
  registerQueueGauges(worker, {} as EventQueue, 30 * 86_400_000);
  registerReconcileGauges(worker, {} as Sql, 86_400_000);
  registerOutboxGauges(worker, {} as Sql);
  const metrics = new Map<string, string[]>();
  for (const registry of [ingress, worker]) {
    for (const metric of registry.getMetricsAsArray()) {
      const { name, labelNames = [] } = metric as unknown as { name: string; labelNames?: string[] };
      metrics.set(name, [...labelNames]);
    }
  }
  return metrics;
}

/** The billing_* series an expression reads, with the labels its selectors name (`{kind="final"}`, `by (type)`). */
function seriesOf(expr: string): { metric: string; labels: string[] }[] {
  return [...expr.matchAll(/\b(billing_[a-z_]+?)(?:_bucket|_sum|_count)?\b(\{[^}]*\})?/g)].map(([, metric, selector]) => ({
    metric: metric!,
    labels: [...(selector ?? '').matchAll(/([a-z_]+)\s*(?:=~|!=|!~|=)/g)].map(([, label]) => label!),
  }));
}

describe('docs/alerts.yml', () => {
  const metrics = registeredMetrics();

  it('has rules, each with a severity, a summary and a description for the operator', () => {
    expect(rules.length).toBeGreaterThan(5);
    for (const rule of rules) {
      expect(rule.labels?.severity, rule.alert).toMatch(/^(page|warn)$/);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
    }
  });

  it.each(rules.map((r) => [r.alert, r] as const))('%s reads only metrics and labels the apps register', (_name, rule) => {
    const series = seriesOf(rule.expr);
    expect(series.length).toBeGreaterThan(0);
    for (const { metric, labels } of series) {
      const known = metrics.get(metric) ?? metrics.get(`${metric}_total`) ?? metrics.get(metric.replace(/_(bucket|sum|count)$/, ''));
      expect(known, `${rule.alert}: ${metric} is not registered by the ingress or the worker`).toBeDefined();
      for (const label of labels) expect(known, `${rule.alert}: ${metric} has no label ${label}`).toContain(label);
    }
  });
});
