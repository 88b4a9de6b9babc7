/**
 * The most a local buffer of claimed jobs could gain (docs/stores-redis.md, "A W3 cycle"):
 * W3's loop on the store API alone, with one claim of 50 at a time against one more claim
 * always in flight; each batch is finished at once, with no handler. Not a comparison with
 * peers. Run: ./node_modules/.bin/node bench/claim-ahead.ts <redis|postgres> [jobs=30000] [rounds=3]
 * Rounds alternate the two ways; each line is one run: jobs/s and client CPU per job.
 */
import { openStore, type Store } from '../src/index.ts';
import { buildNewJob } from '../src/core/options.ts';
import type { ClaimedJob } from '../src/core/job.ts';
import { PG_URL, REDIS_URL } from './adapters/adapter.ts';
import { dropSchema } from './adapters/pg-schema.ts';
import { dropRedisPrefix } from './adapters/redis-keys.ts';

const kind = process.argv[2];
const n = Number(process.argv[3] ?? 30_000);
const rounds = Number(process.argv[4] ?? 3);
if (kind !== 'redis' && kind !== 'postgres') throw new Error('usage: claim-ahead.ts <redis|postgres> [jobs] [rounds]');

async function once(ahead: boolean): Promise<string> {
  const prefix = `bench_ahead_${process.pid}_${Date.now().toString(36)}`;
  const store: Store = await openStore(kind === 'redis' ? REDIS_URL : PG_URL, { prefix, schema: prefix });
  try {
    for (let i = 0; i < n; i += 1000) {
      await store.enqueue(Array.from({ length: Math.min(1000, n - i) }, (_, k) => buildNewJob('bench', 'job', { i: i + k, s: 'x'.repeat(100) })));
    }
    const req = { queues: ['bench'], workerId: 'bench', limit: 50, leaseMs: 60_000 };
    const finish = (jobs: ClaimedJob[]) => store.finish(jobs.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: null })));
    const finishing: Promise<unknown>[] = [];
    let done = 0;
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    let next = store.claim(req);
    for (;;) {
      const jobs = await next;
      if (jobs.length === 0) break;
      // One more claim in flight while this batch is handled, or the next claim after it.
      if (ahead) next = store.claim(req);
      done += jobs.length;
      finishing.push(finish(jobs));
      if (!ahead) next = store.claim(req);
    }
    await Promise.all(finishing);
    const ms = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    return `${ahead ? 'claim ahead' : 'one claim  '} ${Math.round((done / ms) * 1000).toLocaleString('en')} jobs/s, client ${((used.user + used.system) / done).toFixed(1)} µs/job`;
  } finally {
    await store.close();
    await (kind === 'postgres' ? dropSchema(prefix) : dropRedisPrefix(prefix));
  }
}

for (let r = 0; r < rounds; r++) {
  console.log(await once(r % 2 === 1));
  console.log(await once(r % 2 === 0));
}
