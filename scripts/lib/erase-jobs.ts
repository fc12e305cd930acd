import type { EventQueue, JobSigner, QueueStore, StripeEventJobData } from '@billing/queue';
import type { JobState } from 'bullmq';

/** Jobs whose event has still to be applied; `active` is counted apart (its worker holds the data). */
export const PENDING_STATES = ['waiting', 'delayed', 'prioritized', 'paused', 'waiting-children'] as const;
/** Every state a job of the person can be in. */
const STATES = ['completed', 'failed', 'active', ...PENDING_STATES] as const;
type State = (typeof STATES)[number];

/** Page size when reading a state's jobs. */
const PAGE = 500;

/** What erase needs to know of a job: whose it is. */
export interface JobOwner {
  id: string;
  type: string;
  state: State;
  /** `data.object.customer` (a string, or an expanded `{ id }`). */
  customer: string | null;
  /** The checkout's `customer_email` and `customer_details.email`, lower-cased and trimmed. */
  emails: string[];
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function ownerOf(data: StripeEventJobData | undefined): Pick<JobOwner, 'customer' | 'emails'> {
  const object = isObject(data?.data) && isObject(data.data.object) ? data.data.object : {};
  const customer =
    typeof object.customer === 'string'
      ? object.customer
      : isObject(object.customer) && typeof object.customer.id === 'string'
        ? object.customer.id
        : null;
  const details = isObject(object.customer_details) ? object.customer_details : {};
  const emails = [object.customer_email, details.email].flatMap((e) => (typeof e === 'string' && e.trim() ? [e.trim().toLowerCase()] : []));
  return { customer, emails };
}

/**
 * Every job in the queue with whom it belongs to, one state at a time, read in full before
 * anything changes (changing while paging would shift the offsets). A job that moves between
 * states during the scan may be listed twice: the first sighting is kept.
 */
export async function scanJobOwners(queue: EventQueue): Promise<JobOwner[]> {
  const owners = new Map<string, JobOwner>();
  for (const state of STATES) {
    for (let start = 0; ; start += PAGE) {
      const page = await queue.getJobs([state as JobState], start, start + PAGE - 1, true);
      for (const job of page) {
        // Entries can be undefined when a job was removed between the range read and the fetch.
        if (!job?.id || owners.has(job.id)) continue;
        owners.set(job.id, { id: job.id, type: job.name, state, ...ownerOf(job.data as StripeEventJobData | undefined) });
      }
      if (page.length < PAGE) break;
    }
  }
  return [...owners.values()];
}

/** The person's jobs: those of one of `customers`, or carrying `email`. */
export function jobsOfPerson(owners: readonly JobOwner[], customers: ReadonlySet<string>, email: string | undefined): JobOwner[] {
  return owners.filter((o) => (o.customer !== null && customers.has(o.customer)) || (email !== undefined && o.emails.includes(email)));
}

export interface JobsErased {
  removed: { completed: string[]; failed: string[] };
  /** Pending jobs whose emails were removed, re-signed so the worker still takes them (`--force`). */
  resigned: string[];
  /** Pending jobs without an email, left as they are (`--force`): they hold the customer id only. */
  pendingLeft: string[];
  /** Jobs not changed, and why (active, no longer in the state they were seen in, or not signed by us). */
  skipped: Array<{ id: string; reason: string }>;
  /** Entries of the queue's event log that named the person (a failed reason, say), deleted. */
  streamEntries: number;
}

/**
 * 1. pending jobs (only with `force`): the emails leave the event and it is signed again as the
 *    ingress signs it, so the worker still verifies and applies it — only a job whose signature
 *    verifies now: re-signing whatever a job holds would turn a job anyone wrote into the queue's
 *    store into one the worker accepts;
 * 2. completed and failed jobs are removed (their logs go with them);
 * 3. active jobs are left to their worker and reported;
 * 4. the queue's event log loses the entries that mention an email or customer id of the person.
 */
export async function eraseJobs(
  store: QueueStore,
  queue: EventQueue,
  jobs: readonly JobOwner[],
  mentions: readonly string[],
  signer: JobSigner | undefined,
): Promise<JobsErased> {
  const result: JobsErased = { removed: { completed: [], failed: [] }, resigned: [], pendingLeft: [], skipped: [], streamEntries: 0 };
  for (const owner of jobs) {
    if (owner.state === 'active') {
      result.skipped.push({ id: owner.id, reason: 'active: its worker holds the data; run erase again once it completed' });
    } else if (owner.state === 'completed' || owner.state === 'failed') {
      if ((await queue.remove(owner.id)) === 1) result.removed[owner.state].push(owner.id);
      else result.skipped.push({ id: owner.id, reason: 'locked (became active); run erase again once it completed' });
    } else if (signer && owner.emails.length > 0) {
      const job = await queue.getJob(owner.id);
      const state = job ? await job.getState() : 'gone';
      if (!job || state === 'active' || state === 'completed' || state === 'failed' || state === 'unknown') {
        result.skipped.push({ id: owner.id, reason: `was ${owner.state}, now ${state}; run erase again` });
        continue;
      }
      const verified = signer.verify(job.data);
      if (!verified.ok) {
        result.skipped.push({
          id: owner.id,
          reason: `not re-signed: ${verified.reason}; left as it is (the worker refuses it); remove it from the dashboard if it is not Stripe's`,
        });
        continue;
      }
      await job.updateData(signer.sign(withoutEmails(verified.event)));
      result.resigned.push(owner.id);
    } else if (signer) {
      result.pendingLeft.push(owner.id);
    } else {
      result.skipped.push({ id: owner.id, reason: `${owner.state}: still to be applied` });
    }
  }
  result.streamEntries = await store.scrubEventLog(queue, mentions);
  return result;
}

/** The event without the checkout's emails (the only personal data a minimised event keeps but the customer id). */
export function withoutEmails(data: StripeEventJobData): StripeEventJobData {
  const copy = structuredClone(data);
  const object = copy.data.object;
  delete object.customer_email;
  if (isObject(object.customer_details)) delete object.customer_details.email;
  return copy;
}

/** What `eraseJobs` would do, changing nothing (`--dry-run`). */
export function planJobs(jobs: readonly JobOwner[], force: boolean): JobsErased {
  const plan: JobsErased = { removed: { completed: [], failed: [] }, resigned: [], pendingLeft: [], skipped: [], streamEntries: 0 };
  for (const job of jobs) {
    if (job.state === 'completed' || job.state === 'failed') plan.removed[job.state].push(job.id);
    else if (job.state === 'active')
      plan.skipped.push({ id: job.id, reason: 'active: its worker holds the data; run erase again once it completed' });
    else if (!force) plan.skipped.push({ id: job.id, reason: `${job.state}: still to be applied` });
    else (job.emails.length > 0 ? plan.resigned : plan.pendingLeft).push(job.id);
  }
  return plan;
}
