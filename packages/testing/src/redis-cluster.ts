import type { Redis } from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from './redis-server';
import { waitFor } from './wait-for';

export interface ClusterNode {
  redis: PrivateRedis;
  id: string;
  /** An admin connection of the helper's own (closed by `dispose`). */
  admin: Redis;
}

export interface PrivateCluster {
  nodes: ClusterNode[];
  /** `REDIS_CLUSTER_NODES` naming only `node`. */
  seed: (node: ClusterNode) => string;
  /** The node that owns `slot`, as every node sees it (throws while they disagree). */
  ownerOf: (slot: number) => Promise<ClusterNode>;
  /**
   * Moves `slot` to `to` while clients keep using it, the way `redis-cli --cluster reshard`
   * does: IMPORTING/MIGRATING, MIGRATE the keys in small batches (so clients meet ASK and
   * TRYAGAIN in between), then SETSLOT NODE everywhere. Resolves with the number of keys moved.
   */
  migrateSlot: (slot: number, to: ClusterNode, options?: { keysPerBatch?: number; pauseMs?: number }) => Promise<number>;
  dispose: () => Promise<void>;
}

/** `masters` cluster nodes without replicas, slots split evenly, on free ports; resolves once every node says `cluster_state:ok`. */
export async function startPrivateCluster(masters = 3): Promise<PrivateCluster> {
  const nodes: ClusterNode[] = [];
  const dispose = async () => {
    for (const node of nodes.splice(0)) {
      node.admin.disconnect();
      await node.redis.dispose().catch(() => {});
    }
  };
  try {
    for (let i = 0; i < masters; i += 1) {
      const redis = await startPrivateRedis({ cluster: { nodeTimeoutMs: 2_000 } });
      const admin = redis.client();
      admin.on('error', () => {});
      await admin.connect();
      nodes.push({ redis, admin, id: String(await admin.call('CLUSTER', 'MYID')) });
    }
    // 1. Slots split evenly (what `redis-cli --cluster create` does), then every node meets the first.
    const per = Math.ceil(16_384 / masters);
    for (const [i, node] of nodes.entries()) {
      await node.admin.call('CLUSTER', 'ADDSLOTSRANGE', i * per, Math.min(16_383, (i + 1) * per - 1));
    }
    for (const node of nodes.slice(1)) await node.admin.call('CLUSTER', 'MEET', '127.0.0.1', (nodes[0] as ClusterNode).redis.port);
    await waitFor(
      async () => {
        const infos = await Promise.all(nodes.map((n) => n.admin.call('CLUSTER', 'INFO')));
        return infos.every(
          (info) => /cluster_state:ok/.test(String(info)) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(String(info)),
        );
      },
      'the cluster to form (cluster_state:ok on every node)',
      20_000,
      100,
    );

    const ownerOf = async (slot: number) => {
      const owners = await Promise.all(
        nodes.map(async (n) => {
          const ranges = (await n.admin.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, string]]>;
          const range = ranges.find(([from, to]) => slot >= from && slot <= to);
          return range?.[2][2];
        }),
      );
      if (!owners.every((o) => o === owners[0])) throw new Error(`nodes disagree on who owns slot ${slot}: ${owners.join(', ')}`);
      const owner = nodes.find((n) => n.id === owners[0]);
      if (!owner) throw new Error(`no node owns slot ${slot}`);
      return owner;
    };

    const migrateSlot = async (slot: number, to: ClusterNode, options: { keysPerBatch?: number; pauseMs?: number } = {}) => {
      const from = await ownerOf(slot);
      if (from === to) return 0;
      await to.admin.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
      await from.admin.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
      let moved = 0;
      for (;;) {
        const keys = (await from.admin.call('CLUSTER', 'GETKEYSINSLOT', slot, options.keysPerBatch ?? 20)) as string[];
        if (keys.length === 0) break;
        await from.admin.call('MIGRATE', '127.0.0.1', to.redis.port, '', 0, 5_000, 'REPLACE', 'KEYS', ...keys);
        moved += keys.length;
        if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
      }
      // The new owner first, then the old one, then the rest (the order redis-cli uses).
      for (const node of [to, from, ...nodes.filter((n) => n !== to && n !== from)]) {
        await node.admin.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
      }
      return moved;
    };

    return { nodes, seed: (node) => `127.0.0.1:${node.redis.port}`, ownerOf, migrateSlot, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
