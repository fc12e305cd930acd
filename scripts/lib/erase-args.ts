import { parseFlags } from './script-flags';
import { UsageError } from './usage-error';

export type ErasePerson = { email: string } | { customer: string };

export interface EraseArgs {
  person: ErasePerson;
  dryRun: boolean;
  /** Erase even though some of the person's events are not applied yet (their jobs are re-signed without the emails). */
  force: boolean;
}

export const ERASE_USAGE = `usage: npm run erase -- (--email <address> | --customer <cus_…>) [--dry-run] [--force]

Quebec Law 25 art. 28.1: removes a person's personal data from the jobs kept in Redis and
unlinks them where the billing record must stay. In one Postgres transaction: the user's
stripe_customer_id is cleared; their subscriptions stay, unlinked (user_id and
stripe_customer_id cleared); their ledger rows keep the event id, type and outcome but lose
stripe_customer_id and the stored unresolved event. In Redis their completed and failed jobs are
removed. The users row itself is the host application's to delete.
While some of the person's events are still to be applied (waiting, delayed or active jobs),
nothing is erased: billing needs them applied first; run it again once they completed.
  --email <address>   the person by email: users.email and the emails of checkout jobs
  --customer <cus_…>  the person by Stripe customer id
  --dry-run           print what would be done; change nothing
  --force             erase now anyway: waiting and delayed jobs lose their emails and are
                      re-signed (QUEUE_SIGNING_KEY) so the worker still takes them; they will end
                      unresolved. Active jobs are skipped (run erase again once they complete)`;

const CUSTOMER_ID = /^cus_[A-Za-z0-9]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Parses `npm run erase -- …` arguments; throws a `UsageError` naming the problem (empty for --help). */
export function parseEraseArgs(argv: string[]): EraseArgs {
  const values = parseFlags(argv, {
    email: { type: 'string' },
    customer: { type: 'string' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
  });
  if ((values.email === undefined) === (values.customer === undefined)) {
    throw new UsageError(values.email === undefined ? 'say whom: --email or --customer' : 'choose one of --email, --customer');
  }
  const flags = { dryRun: values['dry-run'] === true, force: values.force === true };
  if (values.customer !== undefined) {
    const customer = values.customer.trim();
    if (!CUSTOMER_ID.test(customer))
      throw new UsageError(`--customer ${JSON.stringify(values.customer)} is not a Stripe customer id (cus_…)`);
    return { person: { customer }, ...flags };
  }
  const email = (values.email ?? '').trim().toLowerCase();
  if (!EMAIL.test(email)) throw new UsageError(`--email ${JSON.stringify(values.email)} is not an email address`);
  return { person: { email }, ...flags };
}
