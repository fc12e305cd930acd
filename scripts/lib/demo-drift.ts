import { defaultBillingConfig } from '@billing/billing';
import { createConnection, createDatabase } from '@billing/db/client';
import { stateSweep, type StateSweepReport } from '@billing/reconcile';
import { createStripeClient } from '@billing/runtime/stripe-client';
import { CORPUS_PLAN_PRICES, type BuiltHistory } from '@billing/stripe-simulator/corpus';
import { startFakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { formatReconcileReport, type ReconcileReport } from './reconcile';

/**
 * `npm run demo -- --drift`: after the demo's histories, a fake Stripe API (in this process) holds
 * their final objects, then Stripe moves on without telling us — one subscription's renewal fails
 * (`past_due`), another's cancellation is scheduled — as if those webhooks were lost. Reconcile
 * finds both, repairs them through the lifecycle rules, and a second run finds nothing.
 */
export async function runDriftDemo(options: {
  databaseUrl: string;
  built: BuiltHistory[];
  log?: (line: string) => void;
}): Promise<StateSweepReport[]> {
  const log = options.log ?? ((line: string) => console.log(line));
  const fake = await startFakeStripeApi({ apiKeys: ['sk_test_demo_drift'] });
  const { sql } = createDatabase(options.databaseUrl, { max: 2, applicationName: 'billing-webhooks-demo' });
  const connection = createConnection(options.databaseUrl, 'billing-webhooks-demo');
  try {
    for (const b of options.built) fake.loadHistory(b);
    const [first, second] = options.built.flatMap((b) => b.subscriptions.map((s) => s.ids.subscription));
    fake.updateSubscription(first!, { status: 'past_due' });
    fake.updateSubscription(second!, { cancel_at_period_end: true });
    log(`\nDrift: Stripe (a fake Stripe API at ${fake.url}) now says ${first} is past_due and ${second} cancels at its period end;`);
    log('the webhooks saying so were lost. npm run reconcile compares the tables with Stripe:');
    const deps = {
      stripe: createStripeClient('sk_test_demo_drift', { apiBase: fake.url }),
      sql,
      connection,
      config: { ...defaultBillingConfig, planPrices: CORPUS_PLAN_PRICES },
    };
    const customer = options.built[0]!.customer;
    const reports: StateSweepReport[] = [];
    for (const repair of [false, true, false]) {
      const state = await stateSweep(deps, { customer, repair });
      reports.push(state);
      log(`\n$ npm run reconcile -- --customer ${customer}${repair ? ' --repair' : ''}`);
      log(formatReconcileReport(asReport(state, customer, repair)));
    }
    return reports;
  } finally {
    await fake.close();
    await connection.end({ timeout: 5 });
    await sql.end({ timeout: 5 });
  }
}

/** The state sweep as `npm run reconcile` reports it (the demo runs no events sweep). */
function asReport(state: StateSweepReport, customer: string, repair: boolean): ReconcileReport {
  const since = new Date();
  return {
    args: { since, customer, repair, json: false },
    events: {
      since,
      dryRun: !repair,
      found: 0,
      alreadyProcessed: 0,
      alreadyQueued: [],
      retried: [],
      enqueued: [],
      invalid: [],
      missing: [],
    },
    state,
    exitCode: state.drifts.length > 0 ? 1 : 0,
  };
}
