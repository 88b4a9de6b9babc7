/**
 * A quick measure of the Redis store's batched hot paths (not a test, not a comparison
 * with peers). Run: ./node_modules/.bin/node bench/redis-smoke.ts [redis-url]
 *
 * 1. enqueue 100,000 jobs in batches of 1,000 (one script call per batch)
 * 2. claim + finish in batches of 1,000, one loop
 * 3. the same with 4 loops at once (several workers on one Redis)
 * 4. wake-up latency: enqueue through one store -> wait() on another resolves
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { buildNewJob } from '../src/core/options.ts';
import { RedisStore } from '../src/stores/redis/redis-store.ts';

const url = process.argv[2] ?? 'redis://127.0.0.1:6379';
const prefix = `bench-smoke-${process.pid}-${Date.now().toString(36)}`;
const TOTAL = 100_000;
const BATCH = 1_000;

const store = await RedisStore.connect(url, { prefix });

function rate(n: number, ms: number): string {
  return `${n.toLocaleString('en')} jobs in ${ms.toFixed(0)} ms = ${Math.round((n / ms) * 1000).toLocaleString('en')} jobs/s`;
}

async function fill(queue: string): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < TOTAL; i += BATCH) {
    await store.enqueue(Array.from({ length: BATCH }, (_, k) => buildNewJob(queue, 'work', { i: i + k, payload: 'x'.repeat(64) })));
  }
  return performance.now() - t0;
}

async function drain(queue: string, loops: number): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: loops }, async (_, w) => {
      for (;;) {
        const jobs = await store.claim({ queues: [queue], workerId: `bench-${w}`, limit: BATCH, leaseMs: 60_000 });
        if (jobs.length === 0) return;
        await store.finish(jobs.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: { ok: true } })));
      }
    }),
  );
  return performance.now() - t0;
}

async function dropPrefix(): Promise<void> {
  const raw = new Redis(url);
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await raw.unlink(...keys);
  } while (cursor !== '0');
  raw.disconnect();
}

try {
  const enqueueMs = await fill('smoke-a');
  console.log(`enqueue, batches of ${BATCH}:             ${rate(TOTAL, enqueueMs)}`);
  console.log(`claim+finish, batches of ${BATCH}, 1 loop:  ${rate(TOTAL, await drain('smoke-a', 1))}`);
  await fill('smoke-b');
  console.log(`claim+finish, batches of ${BATCH}, 4 loops: ${rate(TOTAL, await drain('smoke-b', 4))}`);

  const raw = new Redis(url);
  const mem = /used_memory_human:(\S+)/.exec(await raw.info('memory'))?.[1];
  console.log(`Redis used_memory with 200,000 finished jobs kept: ${mem}`);
  raw.disconnect();

  const waiter = await RedisStore.connect(url, { prefix });
  const lat: number[] = [];
  for (let i = 0; i < 50; i++) {
    await waiter.claim({ queues: ['smoke-w'], workerId: 'w', limit: 10, leaseMs: 60_000 });
    const woke = waiter.wait(['smoke-w'], 5_000).then(() => performance.now());
    await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await store.enqueue([buildNewJob('smoke-w', 'work', {})]);
    lat.push((await woke) - t0);
  }
  await waiter.close();
  lat.sort((a, b) => a - b);
  console.log(`wake-up after an enqueue on another connection: median ${lat[25].toFixed(2)} ms, p95 ${lat[47].toFixed(2)} ms`);
} finally {
  await store.close();
  await dropPrefix();
}
