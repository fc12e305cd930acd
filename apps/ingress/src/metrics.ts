import { Counter, Histogram, type Registry } from '@billing/runtime/metrics';

export interface IngressMetrics {
  /** `outcome`: `received`, `duplicate`, `retried`, or the error code answered (errors.ts). */
  requests: Counter<'outcome'>;
  signatureFailures: Counter<'reason'>;
  secretMatches: Counter<'secret_index'>;
  /** `result`: `added`, `duplicate`, `retried`, `error`. */
  enqueueSeconds: Histogram<'result'>;
  /** Jobs per Redis transaction (requests coalesced in one event-loop turn). */
  batchSize: Histogram;
}

/** The ingress metrics, on the app instance's own registry (which also has the process metrics). */
export function createIngressMetrics(registry: Registry): IngressMetrics {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'billing_ingress_requests_total',
      help: 'Webhook requests by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    signatureFailures: new Counter({
      name: 'billing_ingress_signature_failures_total',
      help: 'Webhook requests rejected by signature verification, by reason',
      labelNames: ['reason'],
      registers,
    }),
    secretMatches: new Counter({
      name: 'billing_ingress_secret_matches_total',
      help: 'Verified webhooks by index of the STRIPE_WEBHOOK_SECRET entry that matched',
      labelNames: ['secret_index'],
      registers,
    }),
    enqueueSeconds: new Histogram({
      name: 'billing_ingress_enqueue_duration_seconds',
      help: 'Time until Redis acknowledged (or refused) the batch holding the job',
      labelNames: ['result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5],
      registers,
    }),
    batchSize: new Histogram({
      name: 'billing_ingress_enqueue_batch_size',
      help: 'Jobs written per Redis transaction (the requests of one event-loop turn)',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers,
    }),
  };
}
