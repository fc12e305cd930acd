import { createHash } from 'node:crypto';

/**
 * `erased_customers` holds a SHA-256 (hex) of each erased customer id, never the id: erase
 * inserts it, the loader and the sweep ask whether an event's customer is in it.
 */

/** The stored form of a customer id: SHA-256 of its UTF-8 bytes, lower-case hex. */
export function customerIdHash(customerId: string): string {
  return createHash('sha256').update(customerId, 'utf8').digest('hex');
}

/** SQL: whether the customer id `expression` evaluates to is erased (the twin of `customerIdHash`). */
export function isErasedCustomer(expression: string): string {
  return `exists (select 1 from erased_customers e where e.customer_id_sha256 = encode(sha256(convert_to(${expression}, 'UTF8')), 'hex'))`;
}
