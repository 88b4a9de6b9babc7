/**
 * What the Redis tests share: the machine's Redis URL, a prefix no other run uses, and a
 * cleanup that deletes only that prefix's keys (never FLUSHALL/FLUSHDB on a shared server).
 */
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.CONVEYOR_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(label: string): string {
  return `test-${label}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Deletes every key of the prefix with SCAN + UNLINK. */
export async function dropPrefix(prefix: string, url = REDIS_URL): Promise<number> {
  const redis = new Redis(url);
  let n = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) n += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return n;
}
