/**
 * Walks several sorted sets (scored by creation sequence) as one, in score order, a chunk
 * per round trip, with entries already in hand merged in. list() uses it for "queue Q in states A or B" and similar: reads need no
 * atomicity, and doing the filtering here keeps long scans out of Redis's single thread.
 */
import type { RedisClient } from './connection.ts';

export interface Scored {
  id: string;
  score: number;
}

/**
 * `known`: entries read already (in any order), merged in as one more source: for sets that
 * are not scored by creation (active jobs live in the lease sets).
 */
export async function* mergeScan(redis: RedisClient, keys: string[], desc: boolean, after: number | null, known: Scored[] = [], chunk = 200): AsyncGenerator<Scored[]> {
  const order = (a: Scored, b: Scored) => (desc ? b.score - a.score : a.score - b.score);
  let rest = known.filter((x) => after === null || (desc ? x.score < after : x.score > after)).sort(order);
  let bound = after;
  let live = [...keys];
  while (live.length > 0) {
    const p = redis.pipeline();
    const from = bound === null ? (desc ? '+inf' : '-inf') : `(${bound}`;
    for (const k of live) {
      if (desc) p.zrevrangebyscore(k, from, '-inf', 'WITHSCORES', 'LIMIT', 0, chunk);
      else p.zrangebyscore(k, from, '+inf', 'WITHSCORES', 'LIMIT', 0, chunk);
    }
    const replies = (await p.exec()) ?? [];
    const perKey: Scored[][] = replies.map(([err, flat]) => {
      if (err) throw err;
      const arr = flat as string[];
      const items: Scored[] = [];
      for (let i = 0; i + 1 < arr.length; i += 2) items.push({ id: arr[i], score: Number(arr[i + 1]) });
      return items;
    });
    // A key that filled its chunk may hold more beyond its last score: only scores up to
    // the nearest such last score are complete in this round.
    let safe: number | null = null;
    perKey.forEach((items) => {
      if (items.length < chunk) return;
      const last = items[items.length - 1].score;
      if (safe === null || (desc ? last > safe : last < safe)) safe = last;
    });
    const inRange = (s: number) => safe === null || (desc ? s >= safe : s <= safe);
    const round = [...perKey.flat(), ...rest].filter((x) => inRange(x.score));
    rest = rest.filter((x) => !inRange(x.score));
    round.sort(order);
    if (round.length > 0) yield round;
    if (safe === null) return;
    bound = safe;
    // Keys with nothing past the bound are exhausted.
    live = live.filter((_, i) => perKey[i].length === chunk || perKey[i].some((x) => !inRange(x.score)));
  }
  if (rest.length > 0) yield rest;
}
