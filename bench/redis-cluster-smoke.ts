/**
 * What Redis Cluster and replicas=N cost, next to one server (not a comparison with peers):
 *   ./node_modules/.bin/node bench/redis-cluster-smoke.ts [jobs] [reps]
 * Starts a 3-master Cluster (a replica each, AOF fsync always) and one server without
 * persistence on spare ports (the tests' helpers), then per rep and target: adds `jobs` in
 * batches of 1,000, claims and finishes them in batches of 1,000. Prints medians.
 */
import { buildNewJob } from '../src/core/options.ts';
import { RedisStore } from '../src/stores/redis/redis-store.ts';
import { OwnCluster } from '../test/redis/own-cluster.ts';
import { OwnRedis } from '../test/redis/own-redis.ts';

const N = Number(process.argv[2] ?? 50_000);
const REPS = Number(process.argv[3] ?? 3);
const B = 1000;
const cluster = await OwnCluster.start();
const single = await OwnRedis.start(['--appendonly', 'no']);

async function run(url: string, rep: number): Promise<{ add: number; proc: number }> {
  const store = await RedisStore.connect(url, { prefix: `smoke${rep}`, onWarning: () => {} });
  let t0 = performance.now();
  for (let i = 0; i < N; i += B) await store.enqueue(Array.from({ length: B }, (_, k) => buildNewJob('q', 'w', { i: i + k, payload: 'x'.repeat(64) })));
  const add = N / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (;;) {
    const jobs = await store.claim({ queues: ['q'], workerId: 'w', limit: B, leaseMs: 60_000 });
    if (jobs.length === 0) break;
    await store.finish(jobs.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: null })));
  }
  const proc = N / ((performance.now() - t0) / 1000);
  await store.close();
  return { add, proc };
}

const targets: [string, string][] = [
  ['one server', single.url],
  ['cluster', cluster.url],
  ['cluster replicas=1', `${cluster.url}?replicas=1`],
];
const rows = new Map<string, { add: number[]; proc: number[] }>(targets.map(([label]) => [label, { add: [], proc: [] }]));
try {
  for (let rep = 0; rep < REPS; rep++) {
    for (const [label, url] of targets) {
      const r = await run(url, rep);
      rows.get(label)!.add.push(r.add);
      rows.get(label)!.proc.push(r.proc);
    }
  }
} finally {
  await cluster.stop();
  await single.stop();
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`| target | adds/s | claims+finishes/s |\n|---|---:|---:|`);
for (const [label, r] of rows) console.log(`| ${label} | ${Math.round(med(r.add)).toLocaleString('en')} | ${Math.round(med(r.proc)).toLocaleString('en')} |`);
