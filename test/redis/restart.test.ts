/**
 * Redis restarts: the test's own redis-server (appendonly, appendfsync always) is killed
 * with SIGKILL and started again on the same port and data.
 *
 * 1. Mid-run, while producers add and workers run: everyone reconnects by themselves and
 *    goes on; every acknowledged add completes. Then again while the workers sit idle,
 *    blocked in wait(): work added after the restart wakes them. Their idle safety net is
 *    set to a minute, so only a blocked read that resumed can explain the wake-up (workers
 *    that stop taking jobs after a reconnect are the classic failure this guards against).
 * 2. A store's blocked wait() and its event tail both resume after a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildNewJob } from '../../src/core/options.ts';
import { RedisStore } from '../../src/stores/redis/redis-store.ts';
import type { JobEvent } from '../../src/stores/store.ts';
import { waitFor } from '../contract/contract.ts';
import { assertAllCompleted, lines, runsSince, untilCompleted } from '../helpers/completed.ts';
import { Child } from './child.ts';
import { OwnRedis } from './own-redis.ts';

const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'conveyor-restart-'));
const procs: Child[] = [];
let server: OwnRedis;

before(async () => {
  server = await OwnRedis.start();
});

after(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Worker connections (default name) blocked in a read on the server right now. */
async function blockedReaders(url: string): Promise<number> {
  const c = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  try {
    await c.connect();
    const list = (await c.client('LIST')) as string;
    return list.split('\n').filter((l) => / name=conveyor:blocking /.test(l) && / flags=b /.test(l)).length;
  } catch {
    return 0;
  } finally {
    c.disconnect();
  }
}

test('Redis killed mid-run and while workers idle: everyone goes on, no acknowledged job is lost', async (t) => {
  const url = server.url;
  const prefix = 'restart-run';
  const queue = 'rs';
  const perProducer = 3000;
  const runFiles = [0, 1].map((i) => join(dir, `runs-${i}.txt`));
  const ackFiles = [0, 1].map((i) => join(dir, `ack-${i}.txt`));
  const workers = runFiles.map((f) => new Child(join(fixtures, 'worker.ts'), [url, prefix, queue, '8', '1500', '8', f, '60000']));
  procs.push(...workers);
  await Promise.all(workers.map((w) => w.waitFor(/^ready /)));
  const producers = ackFiles.map((f, p) =>
    new Child(join(fixtures, 'producer.ts'), [url, prefix, queue, String(p * perProducer), String((p + 1) * perProducer), '50', '25', f]),
  );
  procs.push(...producers);

  // Restart while both producers are mid-way and the workers are busy.
  await Promise.all(producers.map((p) => p.waitFor(/^acked (1[0-9]{3}|[2-9][0-9]{3})$/, 30_000)));
  await server.crashAndRestart(300);
  const firstRestart = Date.now();

  await Promise.all(producers.map((p) => p.waitFor(new RegExp(`^added ${perProducer}$`), 40_000)));
  const acked = ackFiles.flatMap(lines);
  assert.equal(new Set(acked).size, 2 * perProducer, 'every add was acknowledged once');

  const store = await RedisStore.connect(url, { prefix, retention: { maxFinishedPerQueue: null }, onWarning: () => {} });
  try {
    await assertAllCompleted(store, queue, acked, 40_000);
    assert.equal((await store.counts([queue]))[queue].failed, 0);
    runFiles.forEach((f, i) => {
      const n = runsSince(f, firstRestart);
      assert.ok(n > 0, `worker ${i} took no job after the first restart`);
      t.diagnostic(`worker ${i}: ${lines(f).length} runs, ${n} after the restart mid-run`);
    });

    // Now the workers are idle, blocked in wait(): restart again; once both have
    // reconnected by themselves and blocked again, add work.
    await waitFor(async () => (await blockedReaders(url)) === 2, 10_000);
    await server.crashAndRestart(300);
    const secondRestart = Date.now();
    await waitFor(async () => (await blockedReaders(url)) === 2, 15_000);
    const more = Array.from({ length: 400 }, (_, i) => buildNewJob(queue, 'work', { i }));
    await store.enqueue(more);
    await untilCompleted(store, queue, acked.length + more.length, 15_000);
    runFiles.forEach((f, i) => {
      const n = runsSince(f, secondRestart);
      assert.ok(n > 0, `idle worker ${i} was not woken by work added after the restart`);
      t.diagnostic(`worker ${i}: ${n} runs after the restart while idle`);
    });
  } finally {
    await store.close();
  }
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
});

test("a store's blocked wait() and its event tail resume after a restart", async () => {
  const opts = { prefix: 'restart-wait', onWarning: () => {} };
  const waiting = await RedisStore.connect(server.url, opts);
  const producer = await RedisStore.connect(server.url, opts);
  try {
    const events: JobEvent[] = [];
    const off = waiting.subscribe((e) => events.push(e));
    // A subscription sees events from when its tail is set up (a round trip after
    // subscribe()); another store's write in that instant is not guaranteed to reach it.
    await sleep(200);
    await producer.enqueue([buildNewJob('w', 't', { before: true })]);
    await waitFor(() => events.some((e) => e.type === 'added'), 10_000);
    await waiting.claim({ queues: ['w'], workerId: 'x', limit: 10, leaseMs: 60_000 });
    const woke = waiting.wait(['w'], 60_000);
    await sleep(100);
    await server.crashAndRestart(300);
    const [r] = await producer.enqueue([buildNewJob('w', 't', { after: true })]);
    const t0 = Date.now();
    await woke;
    assert.ok(Date.now() - t0 < 10_000, 'wait() woke for work added after the restart');
    await waitFor(() => events.some((e) => e.type === 'added' && e.jobId === r.id), 10_000);
    off();
  } finally {
    await waiting.close();
    await producer.close();
  }
});
