/**
 * Job ids: UUIDv7 (RFC 9562), time-ordered. A random (v4) id lands on a random page of a
 * B-tree index, so a batch of 1,000 inserts dirtied hundreds of index pages in SQLite; ids
 * that grow with time append to the index's last page. Within one millisecond the 12-bit
 * rand_a field counts up (RFC 9562, method 1), so ids from one process sort in creation
 * order; the last 62 bits stay random.
 */
import { randomFillSync } from 'node:crypto';

const pool = Buffer.alloc(8 * 512);
let poolAt = pool.length;
let lastMs = -1;
let counter = 0;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function newJobId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter > 0xfff) {
    // 4,096 ids in one millisecond: borrow the next millisecond rather than lose order.
    lastMs++;
    counter = 0;
  }
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const r = poolAt;
  poolAt += 8;
  const ms = lastMs;
  const hi = Math.floor(ms / 2 ** 16);
  const lo = ms % 2 ** 16;
  const t =
    HEX[(hi >>> 24) & 0xff] + HEX[(hi >>> 16) & 0xff] + HEX[(hi >>> 8) & 0xff] + HEX[hi & 0xff] + '-' + HEX[lo >>> 8] + HEX[lo & 0xff];
  const a = HEX[0x70 | (counter >>> 8)] + HEX[counter & 0xff];
  const v = HEX[0x80 | (pool[r] & 0x3f)] + HEX[pool[r + 1]];
  const n = HEX[pool[r + 2]] + HEX[pool[r + 3]] + HEX[pool[r + 4]] + HEX[pool[r + 5]] + HEX[pool[r + 6]] + HEX[pool[r + 7]];
  return `${t}-${a}-${v}-${n}`;
}
