/**
 * What one claim of 50 costs on Redis, inside its script and per command the script calls
 * (docs/stores-redis.md, "Where a claim's time goes"). Not a comparison with peers.
 * Run: ./node_modules/.bin/node bench/redis-claim-cost.ts [redis-url] [claims=700]
 *
 * Fills a queue with 40,000 jobs, then claims 50 at a time and reports, from the
 * difference of INFO commandstats over the claims, Redis time per claim inside FCALL and
 * in each command it called, and the client's CPU per claim. Nothing else may use that
 * Redis meanwhile (the stats are the server's).
 */
import { Redis } from 'ioredis';
import { buildNewJob } from '../src/core/options.ts';
import { RedisStore } from '../src/stores/redis/redis-store.ts';
import { dropRedisPrefix } from './adapters/redis-keys.ts';

const url = process.argv[2] ?? 'redis://127.0.0.1:6379';
const claims = Number(process.argv[3] ?? 700);
const LIMIT = 50;
const prefix = `bench-claim-${process.pid}-${Date.now().toString(36)}`;
const redis = new Redis(url);
const store = await RedisStore.connect(url, { prefix });

type Stats = Record<string, { calls: number; usec: number }>;
async function commandStats(): Promise<Stats> {
  const out: Stats = {};
  for (const m of (await redis.info('commandstats')).matchAll(/cmdstat_([\w|]+):calls=(\d+),usec=(\d+)/g)) out[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
  return out;
}

try {
  for (let i = 0; i < claims * LIMIT + 5_000; i += 1000) {
    await store.enqueue(Array.from({ length: 1000 }, (_, k) => buildNewJob('bench', 'job', { i: i + k, s: 'x'.repeat(100) })));
  }
  const before = await commandStats();
  const cpu = process.cpuUsage();
  for (let i = 0; i < claims; i++) await store.claim({ queues: ['bench'], workerId: 'bench', limit: LIMIT, leaseMs: 60_000 });
  const used = process.cpuUsage(cpu);
  const after = await commandStats();
  console.log(`${claims} claims of ${LIMIT}; Redis µs per claim (calls per claim):`);
  const rows = Object.entries(after)
    .map(([name, s]) => ({ name, calls: s.calls - (before[name]?.calls ?? 0), usec: s.usec - (before[name]?.usec ?? 0) }))
    .filter((r) => r.calls > 0 && r.name !== 'info')
    .sort((a, b) => b.usec - a.usec);
  for (const r of rows) console.log(`  ${r.name.padEnd(16)} ${(r.usec / claims).toFixed(1).padStart(8)} µs  (${(r.calls / claims).toFixed(1)})`);
  console.log(`client CPU per claim: ${((used.user + used.system) / claims).toFixed(0)} µs`);
} finally {
  await store.close();
  await dropRedisPrefix(prefix, url);
  redis.disconnect();
}
