// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { existsSync } from 'node:fs';
import { subscriptions, users, webhookEvents } from '@billing/db/schema';
import type { QueueConfig } from '@billing/queue';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { describeEachBackend, dropQueue, queueEnvOf, testQueueConfig, uniqueQueueName } from '@billing/testing/test-queue';
import { freePort } from '@billing/testing/ports';
import { REPO_ROOT, runScript, startApp, startNodeProcess, type AppProcess, type NodeProcess } from '@billing/testing/processes';
import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SECRET = 'whsec_demo_test_secret_0123456789';
const appsExist = ['ingress', 'worker'].every((app) => existsSync(`${REPO_ROOT}apps/${app}/src/server.ts`));

/** The demo's three histories end as Stripe's final objects say (checked field by field against the corpus oracle in the domain tests). */
async function expectDemoRows(t: TestDatabase, stdout: string): Promise<void> {
  const [user] = await t.db.select().from(users).where(eq(users.email, 'demo@example.com'));
  expect(user?.subscriptionStatus).toBe('active');
  const subs = await t.db.select().from(subscriptions).orderBy(asc(subscriptions.id));
  expect(subs.map((s) => [s.userId, s.status, s.planSlug, s.period, s.trialEnd !== null, s.cancelAt !== null])).toEqual([
    [user!.id, 'active', 'business', 'yearly', true, false], // the trial, then active
    [user!.id, 'active', 'pro', 'monthly', false, false], // upgraded from starter in the portal, delivered backwards
    [user!.id, 'active', 'pro', 'monthly', false, true], // a cancellation scheduled, older payload shape, shuffled
  ]);
  for (const sub of subs) expect(sub.stripePriceId).toMatch(/^price_corpus_/);
  const ledger = await t.db.select().from(webhookEvents);
  expect(ledger.filter((r) => r.outcome === 'unresolved')).toEqual([]);
  expect(stdout.match(/→ HTTP 200, worker: /g)).toHaveLength(ledger.length);
  for (const table of [
    'users (1 row)',
    'subscriptions (3 rows)',
    `webhook_events (${ledger.length} rows)`,
    'Stripe’s own final objects say:',
  ]) {
    expect(stdout).toContain(table);
  }
  // What the worker made of each subscription is what Stripe says of it.
  for (const sub of subs)
    expect(stdout).toContain(`${sub.stripeSubscriptionId}: active, ${sub.planSlug}/${sub.period} (${sub.stripePriceId})`);
}

describeEachBackend('npm run demo against real ingress and worker processes', (backend) => {
  let t: TestDatabase;
  let config: QueueConfig;
  let ingress: AppProcess | undefined;
  let worker: AppProcess | undefined;
  let port: number;
  const queueName = uniqueQueueName('demo');

  beforeAll(async () => {
    t = await createTestDatabase('demo');
    config = await testQueueConfig(backend, t.url);
    port = await freePort();
    const queue = { ...queueEnvOf(config), QUEUE_NAME: queueName };
    [worker, ingress] = await Promise.all([
      startApp('worker', { ...queue, DATABASE_URL: t.url, WORKER_METRICS_PORT: '0' }, /"msg":"worker ready"/),
      startApp(
        'ingress',
        { ...queue, STRIPE_WEBHOOK_SECRET: SECRET, PORT: String(port), INGRESS_METRICS_PORT: '0' },
        /"msg":"ingress listening"/,
      ),
    ]);
  });
  afterAll(async () => {
    await ingress?.stop();
    await worker?.stop();
    await dropQueue(config, queueName);
    await t?.drop();
  });

  it('creates the demo user, sends three histories (in order, backwards, shuffled; both payload shapes), and prints the rows beside Stripe’s final objects', async () => {
    const run = await runScript('scripts/demo.ts', [], {
      ...queueEnvOf(config),
      QUEUE_NAME: queueName,
      DATABASE_URL: t.url,
      PORT: String(port),
      STRIPE_WEBHOOK_SECRET: SECRET,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    // The sample host got every outbox row of the demo, verified (the worker ran without NOTIFY_URL: the demo's relay sent them).
    const [{ count }] = (await t.sql`select count(*)::int as count from billing_outbox`) as unknown as [{ count: number }];
    const received = /received (\d+) signed notification\(s\), each verified with @billing\/client/.exec(run.stdout);
    expect(Number(received?.[1])).toBe(count);
    expect(run.stdout).toMatch(/ subscription\.created /);
    expect(run.stdout).toMatch(/ user\.access_granted /);
    expect(run.stdout).not.toMatch(/not delivered within/);
    await expectDemoRows(t, run.stdout);
  });

  it('--drift: reconcile finds the drift seeded at a fake Stripe API, repairs it through the rules, and then finds none', async () => {
    const run = await runScript('scripts/demo.ts', ['--drift'], { DATABASE_URL: t.url, PORT: String(port), STRIPE_WEBHOOK_SECRET: SECRET });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const [found, repaired, again] = run.stdout.split('$ npm run reconcile').slice(1);
    expect(found).toMatch(/\s+status\s+active → past_due/);
    expect(found).toMatch(/\s+cancellation\s+— → \d{4}-/);
    expect(repaired).toMatch(/Repaired 2 subscriptions through the lifecycle rules/);
    expect(again).toMatch(/reconcile: 0 drifts in the state sweep/);
    const statuses = await t.db.select({ status: subscriptions.status }).from(subscriptions);
    expect(statuses.map((s) => s.status)).toContain('past_due');
  });

  it('says so when the ingress uses another secret', async () => {
    const run = await runScript('scripts/demo.ts', [], {
      DATABASE_URL: t.url,
      PORT: String(port),
      STRIPE_WEBHOOK_SECRET: 'whsec_not_the_right_one',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^demo: the ingress rejected the signature: .*STRIPE_WEBHOOK_SECRET/);
  });
});

describe('npm run demo without a stack', () => {
  it('says to run npm start when nothing answers', async () => {
    const run = await runScript('scripts/demo.ts', [], { PORT: String(await freePort()), STRIPE_WEBHOOK_SECRET: SECRET });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^demo: the ingress does not answer at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\. .*npm start/);
  });
});

describe.skipIf(!appsExist)('npm start with DATABASE_URL and no Redis variable (the queue on that Postgres), then npm run demo', () => {
  let t: TestDatabase;
  let start: NodeProcess | undefined;
  const queueName = uniqueQueueName('start');

  beforeAll(async () => {
    t = await createTestDatabase('start');
  });
  afterAll(async () => {
    // SIGINT first: start forwards it, so the apps (in process groups of their own) stop too.
    await start?.stop('SIGINT', 15_000);
    await t?.drop();
  });

  it('migrates, runs the three apps with prefixed logs, prints where they listen, and stops all on Ctrl-C', async () => {
    const [port, dashboardPort] = [await freePort(), await freePort()];
    const env = {
      DATABASE_URL: t.url,
      QUEUE_NAME: queueName,
      PORT: String(port),
      DASHBOARD_PORT: String(dashboardPort),
      WORKER_METRICS_PORT: '0',
      INGRESS_METRICS_PORT: '0',
      // Set, so the test does not write .local/webhook-secret in the working tree.
      STRIPE_WEBHOOK_SECRET: SECRET,
    };
    // QUEUE_SIGNING_KEY comes with the test environment, so start writes no .local key either.
    start = await startNodeProcess('start', 'scripts/start.ts', env, /billing-webhooks is running/, { timeoutMs: 45_000 });
    let output = start.output();
    expect(output).toMatch(/^\[ingress\s*\] \{.*"msg":"ingress listening"/m);
    expect(output).toMatch(/^\[ingress\s*\] \{.*"backend":"postgres"/m);
    expect(output).toMatch(/^\[worker\s*\] \{.*"msg":"worker ready"/m);
    expect(output).toMatch(/^\[dashboard\s*\] \{.*"msg":"dashboard listening"/m);
    expect(output).toContain(
      `http://127.0.0.1:${port}/checkout/webhooks/stripe   (also /healthz, /readyz)\n             metrics http://127.0.0.1:`,
    );
    const password = /user admin {2}password (\S+) {2}\(generated for this run/.exec(output)?.[1];
    expect(password).toBeTruthy();
    // The dashboard takes the password start generated: printed once, by start.
    expect(output.split(password!).length - 1).toBe(1);
    const board = await fetch(`http://127.0.0.1:${dashboardPort}/api/queues`, {
      headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` },
    });
    expect(board.status).toBe(200);

    const demo = await runScript('scripts/demo.ts', [], {
      DATABASE_URL: t.url,
      QUEUE_NAME: queueName,
      PORT: String(port),
      STRIPE_WEBHOOK_SECRET: SECRET,
    });
    expect(demo.stderr).toBe('');
    expect(demo.status).toBe(0);
    await expectDemoRows(t, demo.stdout);

    expect(await start.stop('SIGINT')).toBe(0);
    output = start.output();
    for (const app of ['ingress', 'worker', 'dashboard']) {
      expect(output).toMatch(new RegExp(`^\\[${app}\\s*\\] \\{.*"msg":"stopped"`, 'm'));
    }
    expect(output).not.toContain('second signal');
    expect(output).toContain('start: all stopped');
  });
});

describe('npm run demo -- --thin against real ingress and worker processes', () => {
  const THIN_SECRET = 'whsec_demo_thin_secret_0123456789';
  let t: TestDatabase;
  let config: QueueConfig;
  let ingress: AppProcess | undefined;
  let worker: AppProcess | undefined;
  let port: number;
  let apiPort: number;
  const queueName = uniqueQueueName('demothin');

  beforeAll(async () => {
    t = await createTestDatabase('demo_thin');
    config = await testQueueConfig('postgres', t.url);
    [port, apiPort] = [await freePort(), await freePort()];
    const queue = { ...queueEnvOf(config), QUEUE_NAME: queueName };
    [worker, ingress] = await Promise.all([
      startApp(
        'worker',
        {
          ...queue,
          DATABASE_URL: t.url,
          WORKER_METRICS_PORT: '0',
          STRIPE_THIN_WEBHOOK_SECRET: THIN_SECRET,
          STRIPE_SECRET_KEY: 'sk_test_demo_thin',
          STRIPE_API_BASE: `http://127.0.0.1:${apiPort}`,
        },
        /"msg":"worker ready"/,
      ),
      startApp(
        'ingress',
        { ...queue, STRIPE_WEBHOOK_SECRET: SECRET, STRIPE_THIN_WEBHOOK_SECRET: THIN_SECRET, PORT: String(port), INGRESS_METRICS_PORT: '0' },
        /"msg":"ingress listening"/,
      ),
    ]);
  });
  afterAll(async () => {
    await ingress?.stop();
    await worker?.stop();
    await dropQueue(config, queueName);
    await t?.drop();
  });

  it('sends the histories as thin events, the worker fetches their objects from the fake Stripe API, and the rows end as Stripe’s final objects', async () => {
    const run = await runScript('scripts/demo.ts', ['--thin'], {
      DATABASE_URL: t.url,
      PORT: String(port),
      STRIPE_WEBHOOK_SECRET: SECRET,
      STRIPE_THIN_WEBHOOK_SECRET: THIN_SECRET,
      DEMO_STRIPE_API_PORT: String(apiPort),
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    await expectDemoRows(t, run.stdout);
    // What each thin event cost: one call for a subscription or an invoice, two for a checkout (the session, then its subscription).
    expect(run.stdout).toMatch(/v1\.customer\.subscription\.updated\s+→ HTTP 200, worker: \S+\s+Stripe API calls: 1 \(subscriptions\)/);
    expect(run.stdout).toMatch(/v1\.invoice\.paid\s+→ HTTP 200, worker: \S+\s+Stripe API calls: 1 \(invoices\)/);
    expect(run.stdout).toMatch(
      /v1\.checkout\.session\.completed\s+→ HTTP 200, worker: \S+\s+Stripe API calls: 2 \(checkout\/sessions, subscriptions\)/,
    );
  });

  it('says what is missing without STRIPE_THIN_WEBHOOK_SECRET', async () => {
    const run = await runScript('scripts/demo.ts', ['--thin'], { DATABASE_URL: t.url, PORT: String(port), STRIPE_WEBHOOK_SECRET: SECRET });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^demo: --thin needs STRIPE_THIN_WEBHOOK_SECRET/);
  });
});
