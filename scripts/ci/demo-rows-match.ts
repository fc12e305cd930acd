import { readFileSync } from 'node:fs';
import { createDatabase } from '@billing/db/client';
import { subscriptions } from '@billing/db/schema';
import { loadEnvOrExit } from '@billing/runtime/env';
import { inArray } from 'drizzle-orm';
import { readLocalDatabaseUrl } from '../lib/local-secret';
import { optionalDatabaseUrl } from '../lib/services';

// `tsx scripts/ci/demo-rows-match.ts <demo output file>`: the bare-machine check's oracle step.
// `npm run demo` prints, for each subscription it sent, what Stripe's own final object says; this
// reads those lines and the rows the worker wrote (DATABASE_URL, else the embedded profile's URL
// in .local/database-url) and exits 1 naming each difference.

const env = loadEnvOrExit('demo-rows-match', { DATABASE_URL: optionalDatabaseUrl });
const file = process.argv[2];
if (!file) {
  console.error('usage: tsx scripts/ci/demo-rows-match.ts <file with the output of npm run demo>');
  process.exit(2);
}
const url = env.DATABASE_URL ?? readLocalDatabaseUrl();
if (!url) {
  console.error('demo-rows-match: no DATABASE_URL and no .local/database-url (npm start writes it in the embedded profile)');
  process.exit(1);
}

interface Expected {
  status: string;
  plan: string;
  period: string;
  price: string;
  periodEnd: string;
  cancelAt: string;
  trialEnd: string;
}
const line = /^ {2}(sub_\S+): (\S+), ([^/\s]+)\/(\S+) \((\S+)\), period end (\S+), cancel at (\S+), trial end (\S+)$/;
const expected = new Map<string, Expected>();
for (const text of readFileSync(file, 'utf8').split('\n')) {
  const m = line.exec(text);
  if (m)
    expected.set(m[1]!, { status: m[2]!, plan: m[3]!, period: m[4]!, price: m[5]!, periodEnd: m[6]!, cancelAt: m[7]!, trialEnd: m[8]! });
}
if (expected.size === 0) {
  console.error(`demo-rows-match: ${file} has no "Stripe’s own final objects say:" lines: did the demo finish?`);
  process.exit(1);
}

const day = (value: Date | null) => (value === null ? 'none' : value.toISOString().slice(0, 10));
const { db, sql } = createDatabase(url, { max: 1, applicationName: 'billing-webhooks-demo-rows-match' });
try {
  const rows = await db
    .select()
    .from(subscriptions)
    .where(inArray(subscriptions.stripeSubscriptionId, [...expected.keys()]));
  const differences: string[] = [];
  for (const [id, want] of expected) {
    const row = rows.find((r) => r.stripeSubscriptionId === id);
    if (!row) {
      differences.push(`${id}: no row`);
      continue;
    }
    const got: Expected = {
      status: row.status,
      plan: row.planSlug,
      period: row.period,
      price: row.stripePriceId ?? 'none',
      periodEnd: day(row.currentPeriodEnd),
      cancelAt: day(row.cancelAt),
      trialEnd: day(row.trialEnd),
    };
    for (const key of Object.keys(want) as Array<keyof Expected>) {
      if (got[key] !== want[key]) differences.push(`${id}: ${key} is ${got[key]}, Stripe says ${want[key]}`);
    }
  }
  if (differences.length) {
    console.error(`demo-rows-match: the rows differ from Stripe's final objects:\n  ${differences.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log(
      `demo-rows-match: ${expected.size} subscriptions, each row equal to Stripe's final object (status, plan, period, price, period end, cancel at, trial end)`,
    );
  }
} finally {
  await sql.end({ timeout: 5 });
}
