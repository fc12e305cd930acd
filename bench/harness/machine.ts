import { existsSync } from 'node:fs';
import os from 'node:os';
import type postgres from 'postgres';
import { Redis } from 'ioredis';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  postgres: string;
  redis: string;
  /** 1-minute load average when the run started and ended: how busy the shared machine was. */
  loadAverage: { start: number; end?: number };
}

export async function describeMachine(sql: postgres.Sql, redisUrl: string): Promise<Machine> {
  const [pg] = await sql<{ v: string }[]>`select current_setting('server_version') as v`;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const redisVersion = await redis
    .connect()
    .then(async () => /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown')
    .finally(() => redis.disconnect());
  return {
    cores: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    postgres: pg?.v ?? 'unknown',
    redis: redisVersion,
    loadAverage: { start: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 },
  };
}

export function loadAverageNow(): number {
  return Math.round((os.loadavg()[0] ?? 0) * 100) / 100;
}

/** The local Redis server's pid (from INFO), when it runs on this machine; for CPU per request. */
export async function localRedisPid(redisUrl: string): Promise<number | undefined> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const pid = await redis
    .connect()
    .then(async () => Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]))
    .catch(() => NaN)
    .finally(() => redis.disconnect());
  return Number.isInteger(pid) && existsSync(`/proc/${pid}`) ? pid : undefined;
}
