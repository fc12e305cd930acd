import { StripeApiError } from './stripe-api-error';

/**
 * A Stripe API query string read the way Stripe reads it: `created[gte]=1` is `{ created: { gte:
 * '1' } }`, `types[0]=a&types[1]=b` (what the SDK sends) and `types[]=a` (curl) are arrays.
 */
export type QueryValue = string | QueryValue[] | { [key: string]: QueryValue };
export type Query = Record<string, QueryValue>;

export function parseQuery(search: URLSearchParams): Query {
  const query: Query = {};
  for (const [key, value] of search) {
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!match) throw StripeApiError.invalid(key, `Invalid parameter name: ${key}`);
    const path = [match[1]!, ...[...match[2]!.matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1]!)];
    assign(query, path, value, key);
  }
  return query;
}

function assign(target: Query | QueryValue[], path: string[], value: string, key: string): void {
  const [head, ...rest] = path as [string, ...string[]];
  const slot = (container: Query | QueryValue[], name: string): QueryValue | undefined =>
    Array.isArray(container) ? container[name === '' ? container.length : Number(name)] : container[name];
  const put = (container: Query | QueryValue[], name: string, v: QueryValue) => {
    if (Array.isArray(container)) {
      if (name === '') container.push(v);
      else if (/^\d+$/.test(name)) container[Number(name)] = v;
      else throw StripeApiError.invalid(key, `Invalid array index in ${key}`);
    } else container[name] = v;
  };
  if (rest.length === 0) {
    put(target, head, value);
    return;
  }
  let child = slot(target, head);
  if (child === undefined || typeof child === 'string') {
    child = rest[0] === '' || /^\d+$/.test(rest[0]!) ? [] : {};
    put(target, head, child);
  }
  assign(child as Query | QueryValue[], rest, value, key);
}

/**
 * Refuses any parameter not in `known`, as Stripe does: 400 `parameter_unknown`. `expand` is
 * refused with its own message: the fake serves ids where Stripe would expand them, and a test
 * relying on an expansion should fail loudly, not read an id as an object.
 */
export function refuseUnknown(query: Query, known: readonly string[]): void {
  if (query.expand !== undefined) {
    throw StripeApiError.invalid(
      'expand',
      'The fake Stripe API does not expand objects (expand[]); extend it if the code under test needs this.',
    );
  }
  for (const name of Object.keys(query)) {
    if (!known.includes(name)) throw StripeApiError.invalid(name, `Received unknown parameter: ${name}`, 'parameter_unknown');
  }
}

export function stringParam(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw StripeApiError.invalid(name, `Invalid ${name}: must be a string`);
  return value;
}

export function booleanParam(query: Query, name: string): boolean | undefined {
  const value = stringParam(query, name);
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') throw StripeApiError.invalid(name, `Invalid boolean: ${value}`, 'parameter_invalid_boolean');
  return value === 'true';
}

export function integerParam(query: Query, name: string, value: QueryValue | undefined = query[name]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
    throw StripeApiError.invalid(
      name,
      `Invalid integer: ${typeof value === 'string' ? value : JSON.stringify(value)}`,
      'parameter_invalid_integer',
    );
  }
  return Number(value);
}

export function arrayParam(query: Query, name: string): string[] | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  // `types[0]=a&types[2]=b` leaves a hole; Stripe reads the values present.
  const values = Array.isArray(value) ? value.filter((v) => v !== undefined) : undefined;
  if (!values || values.some((v) => typeof v !== 'string'))
    throw StripeApiError.invalid(name, `Invalid array: ${name}`, 'parameter_invalid_array');
  return values as string[];
}

/** `created=<t>` or `created[gte|gt|lte|lt]=<t>`, as a predicate on a Unix time. */
export function rangeParam(query: Query, name: string): ((t: number) => boolean) | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    const exact = integerParam(query, name)!;
    return (t) => t === exact;
  }
  if (Array.isArray(value)) throw StripeApiError.invalid(name, `Invalid ${name}: a timestamp or a range`);
  const bounds: Array<(t: number) => boolean> = [];
  for (const [op, raw] of Object.entries(value)) {
    const n = integerParam(query, `${name}[${op}]`, raw)!;
    if (op === 'gte') bounds.push((t) => t >= n);
    else if (op === 'gt') bounds.push((t) => t > n);
    else if (op === 'lte') bounds.push((t) => t <= n);
    else if (op === 'lt') bounds.push((t) => t < n);
    else throw StripeApiError.invalid(`${name}[${op}]`, `Received unknown parameter: ${name}[${op}]`, 'parameter_unknown');
  }
  return (t) => bounds.every((bound) => bound(t));
}

export interface PageParams {
  limit: number;
  startingAfter?: string;
  endingBefore?: string;
}

/** `limit` (1–100, default 10), `starting_after`, `ending_before` (not both). */
export function pageParams(query: Query): PageParams {
  const limit = integerParam(query, 'limit') ?? 10;
  if (limit < 1 || limit > 100)
    throw StripeApiError.invalid('limit', `Invalid limit: must be between 1 and 100 (got ${limit})`, 'parameter_invalid_integer');
  const startingAfter = stringParam(query, 'starting_after');
  const endingBefore = stringParam(query, 'ending_before');
  if (startingAfter !== undefined && endingBefore !== undefined) {
    throw StripeApiError.invalid('ending_before', 'You may only specify one of these parameters: ending_before, starting_after.');
  }
  return { limit, startingAfter: startingAfter || undefined, endingBefore: endingBefore || undefined };
}

/** The parameters every list accepts. */
export const LIST_PARAMS = ['limit', 'starting_after', 'ending_before'] as const;
