import { isHandled } from '@billing/billing';
import type { StripeEvent, ThinEvent } from '@billing/queue';

/**
 * Thin events (Stripe's event destinations): a notification that an object changed, fetched here
 * and handed to the lifecycle rules as the event the snapshot family would have delivered —
 * - `v1.customer.subscription.*`: the subscription fetched, applied as a snapshot taken when the
 *   request was sent (the rule of checkout enrichment: an object fetched is a snapshot at the fetch);
 * - `v1.invoice.paid` / `.payment_succeeded` / `.payment_failed`: the invoice fetched (a thin event
 *   names no subscription), applied as the hint its type implies, dated when the event happened — a
 *   hint is a statement about that moment, and dated at the fetch it would outrank every snapshot
 *   before it (an old `paid` would undo a later `past_due`);
 * - `v1.checkout.session.completed`: the session fetched, applied as today's checkout (which
 *   fetches its subscription in turn).
 * The ledger key is the event's `snapshot_event` when it has one, so a change delivered both as a
 * snapshot event and as a thin event applies once, whichever comes first. Fetches are coalesced:
 * the thin events of one batch that name the same object cost one request.
 */

export type ThinObjectKind = 'subscription' | 'invoice' | 'checkout.session';

/** Retrieves one object from the Stripe API; throws the SDK's error (its `statusCode`, `headers`). */
export type ThinObjectFetcher = (kind: ThinObjectKind, id: string) => Promise<Record<string, unknown>>;

/** Stripe answered 429: the job goes back to delayed for `retryAfterMs` without spending an attempt. */
export class ThinFetchRateLimitedError extends Error {
  override name = 'ThinFetchRateLimitedError';
  constructor(
    readonly retryAfterMs: number,
    what: string,
  ) {
    super(`Stripe rate-limited the fetch of ${what}; retrying in ${Math.ceil(retryAfterMs / 1000)} s without spending an attempt`);
  }
}

/** The worker cannot fetch (no `STRIPE_SECRET_KEY`) or the fetch failed otherwise: an attempt, retried with backoff. */
export class ThinFetchError extends Error {
  override name = 'ThinFetchError';
}

/** Which object a handled thin type names; `undefined`: a type with no effect (recorded `ignored`). */
export function thinObjectKind(type: string): ThinObjectKind | undefined {
  if (type.startsWith('v1.customer.subscription.')) return 'subscription';
  if (/^v1\.invoice\.(paid|payment_succeeded|payment_failed)$/.test(type)) return 'invoice';
  if (type === 'v1.checkout.session.completed') return 'checkout.session';
  return undefined;
}

export interface ThinResolution {
  /** Per item in order: the event to apply (the snapshot events as given), or the error that fails it now. */
  events: Array<StripeEvent | Error>;
  /** Why a thin item is recorded `ignored` (its object is gone, or its type has no effect), by index. */
  ignored: Map<number, string>;
  /** Requests sent to the Stripe API. */
  fetches: number;
}

const RETRY_AFTER_DEFAULT_MS = 1_000;
const RETRY_AFTER_MAX_MS = 60_000;

/** Resolves the thin events of a batch into events the lifecycle rules read; snapshot events pass through. */
export async function resolveThinEvents(
  items: ReadonlyArray<StripeEvent | ThinEvent>,
  fetchObject: ThinObjectFetcher | undefined,
  apiVersion: string,
): Promise<ThinResolution> {
  const resolution: ThinResolution = { events: [], ignored: new Map(), fetches: 0 };
  const requests = new Map<string, Promise<Fetched>>();
  const fetchOnce = (kind: ThinObjectKind, id: string): Promise<Fetched> => {
    const key = `${kind}:${id}`;
    let request = requests.get(key);
    if (!request) {
      resolution.fetches += 1;
      const at = Math.floor(Date.now() / 1000); // sent now: the object is at least as new as this second
      request = fetchObject!(kind, id).then(
        (object): Fetched => ({ ok: true, object, at }),
        (error: unknown): Fetched => ({ ok: false, error }),
      );
      requests.set(key, request);
    }
    return request;
  };

  resolution.events = await Promise.all(
    items.map(async (item, index): Promise<StripeEvent | Error> => {
      if (item.object !== 'v2.core.event') return item as StripeEvent;
      const thin = item as ThinEvent;
      const created = Math.floor(Date.parse(thin.created) / 1000);
      const kind = thinObjectKind(thin.type);
      const related = thin.related_object;
      const ignore = (reason: string): StripeEvent => {
        resolution.ignored.set(index, reason);
        // Keyed by the thin event's own id: its snapshot twin, if any, still applies.
        return {
          id: thin.id,
          object: 'event',
          type: thin.type,
          created,
          data: { object: related ? { id: related.id, object: related.type } : {} },
        };
      };
      if (kind === undefined) return ignore(`no handler for ${thin.type}`);
      if (!related || related.type !== kind) return ignore(`${thin.type} names no ${kind}`);
      if (!fetchObject)
        return new ThinFetchError(`${thin.type}: thin events need their object fetched; set STRIPE_SECRET_KEY on the worker`);

      const fetched = await fetchOnce(kind, related.id);
      if (!fetched.ok) {
        const status = statusOf(fetched.error);
        if (status === 404) return ignore(`the ${kind} ${related.id} no longer exists at Stripe (404)`);
        if (status === 429) return new ThinFetchRateLimitedError(retryAfterMs(fetched.error), `${kind} ${related.id}`);
        return new ThinFetchError(`could not fetch the ${kind} ${related.id} from Stripe: ${messageOf(fetched.error)}`);
      }
      const id = thin.snapshot_event ?? thin.id;
      const base = {
        id,
        object: 'event' as const,
        api_version: apiVersion,
        livemode: thin.livemode === true,
        data: { object: fetched.object },
      };
      if (kind === 'subscription') {
        const type = thin.type.slice('v1.'.length);
        return { ...base, type: isHandled(type) ? type : 'customer.subscription.updated', created: fetched.at };
      }
      if (kind === 'invoice') return { ...base, type: thin.type.slice('v1.'.length), created };
      return { ...base, type: 'checkout.session.completed', created };
    }),
  );
  return resolution;
}

type Fetched = { ok: true; object: Record<string, unknown>; at: number } | { ok: false; error: unknown };

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function retryAfterMs(error: unknown): number {
  const headers = (error as { headers?: Record<string, unknown> } | null)?.headers;
  const seconds = Number(headers?.['retry-after']);
  if (!Number.isFinite(seconds) || seconds <= 0) return RETRY_AFTER_DEFAULT_MS;
  return Math.min(seconds * 1000, RETRY_AFTER_MAX_MS);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message.slice(0, 200) : String(error).slice(0, 200);
}
