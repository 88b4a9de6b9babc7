/** What the Redis runs share: removing one prefix's keys after a run (never the whole server). */
import { Redis } from 'ioredis';
import { REDIS_URL } from './adapter.ts';

export async function dropRedisPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const r = new Redis(url);
  try {
    for (let cursor = '0'; ; ) {
      const [next, keys] = await r.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 5000);
      if (keys.length) await r.unlink(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    r.disconnect();
  }
}
