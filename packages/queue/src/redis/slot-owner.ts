import type { Cluster, Redis } from 'ioredis';

/** Slot of a hash tag (or whole key), cached: a key's slot never changes, only its owner does. */
const slots = new Map<string, number>();

/**
 * The connection to the primary that owns `key`'s slot: the very connection the cluster client
 * sends that key's commands on, so a command issued here follows them (`WAIT`, `ROLE`).
 */
export async function slotOwner(cluster: Cluster, key: string): Promise<Redis> {
  const tag = hashTagOf(key);
  let slot = slots.get(tag);
  if (slot === undefined) {
    slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', tag));
    slots.set(tag, slot);
  }
  const owner = cluster.slots[slot]?.[0];
  const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (!node) throw new Error(`no known primary owns slot ${slot} (of "${tag}") yet`);
  return node;
}

function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open, close + 1) : key;
}
