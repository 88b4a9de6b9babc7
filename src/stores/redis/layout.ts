/**
 * Which layout of keys and fields a prefix's data is in, kept in `{prefix}:layout`. A store
 * reads every layout up to its own, marks the prefix with its own at connect, and refuses a
 * prefix marked newer: it would misread jobs written in a layout it does not know.
 *
 * 1: before the mark existed. 2: a job's hash leaves out its id (the key holds it), priority
 * 0 and a single attempt; layout-1 hashes, which hold them, read the same. 3: data and
 * results up to 512 bytes live in the hash in 64-byte chunks (lua/lib.lua putValue), not in
 * keys of their own; earlier jobs, whose values over 48 bytes have their own keys, read the
 * same. A layout-2 process would read only a chunked value's first chunk. 4: active jobs
 * have no `st:active:<q>` set (the lease set holds exactly them); marking a prefix 4 drops
 * those sets, which the scripts no longer keep.
 */
import { ConnectionError } from '../../core/errors.ts';
import type { RedisClient } from './connection.ts';
import type { Keys } from './keys.ts';

export const LAYOUT = 4;

export async function claimLayout(redis: RedisClient, keys: Keys, location: string): Promise<void> {
  const found = await redis.get(keys.layout);
  const layout = found === null ? 1 : Number(found);
  if (layout > LAYOUT) {
    throw new ConnectionError(
      `the Conveyor data at ${location} (${keys.layout}) is in layout ${layout}, newer than this version reads (${LAYOUT}): upgrade this process`,
    );
  }
  if (layout >= LAYOUT) return;
  if (layout < 4) {
    const queues = await redis.smembers(keys.queues);
    if (queues.length > 0) await redis.del(...queues.map((q) => keys.state('active', q)));
  }
  await redis.set(keys.layout, String(LAYOUT));
}
