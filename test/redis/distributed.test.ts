/**
 * Conveyor across processes on Redis: two producer processes and three worker processes on
 * 20,000 jobs; one worker is killed with SIGKILL mid-run. Every job completes, and the only
 * jobs that run twice are ones the killed worker had in flight. A Worker holds at most twice
 * its concurrency in leases (handlers running, plus outcomes not yet written: the slot frees
 * when the handler returns), so that is the bound on what comes back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { buildNewJob } from '../../src/core/options.ts';
import { Keys } from '../../src/stores/redis/keys.ts';
import { RedisStore } from '../../src/stores/redis/redis-store.ts';
import type { Store } from '../../src/stores/store.ts';
import { waitFor } from '../contract/contract.ts';
import { Child } from './child.ts';
import { dropPrefix, REDIS_URL, uniquePrefix } from './redis-env.ts';

const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'conveyor-dist-'));
const prefix = uniquePrefix('dist');
const procs: Child[] = [];

after(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  await dropPrefix(prefix);
});

/** Polls counts (a test may poll; the store under test does not) until `done` holds. */
async function until(store: Store, queue: string, done: (completed: number) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = (await store.counts([queue]))[queue];
    if (done(c.completed)) return;
    if (Date.now() > deadline) throw new Error(`timed out; counts ${JSON.stringify(c)}`);
    await sleep(50);
  }
}

/** Job id -> indices of the workers that started it, from the workers' run files. */
function runsByJob(files: string[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  files.forEach((f, w) => {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!line) continue;
      const id = line.split(' ')[0];
      out.set(id, [...(out.get(id) ?? []), w]);
    }
  });
  return out;
}

test('2 producers and 3 workers on 20,000 jobs; kill -9 of a worker re-runs only its in-flight jobs', async (t) => {
  const queue = 'dist';
  const total = 20_000;
  const concurrency = 16;
  const store = await RedisStore.connect(REDIS_URL, { prefix });
  try {
    const runFiles = [0, 1, 2].map((i) => join(dir, `runs-${i}.txt`));
    const workers = runFiles.map((f) => new Child(join(fixtures, 'worker.ts'), [REDIS_URL, prefix, queue, String(concurrency), '1500', '2', f]));
    procs.push(...workers);
    const workerIds = (await Promise.all(workers.map((w) => w.waitFor(/^ready /)))).map((l) => l.slice('ready '.length));
    const producers = [0, 1].map((p) =>
      new Child(join(fixtures, 'producer.ts'), [REDIS_URL, prefix, queue, String(p * 10_000), String((p + 1) * 10_000), '250', '0', join(dir, `ack-${p}.txt`)]),
    );
    procs.push(...producers);

    await until(store, queue, (n) => n >= total * 0.3, 45_000);
    workers[0].child.kill('SIGKILL');
    await workers[0].exited;
    await Promise.all(producers.map((p) => p.waitFor(/^added 10000$/, 45_000)));
    await until(store, queue, (n) => n === total, 45_000);

    for (const w of workers.slice(1)) w.child.kill('SIGTERM');
    await Promise.all(workers.slice(1).map((w) => w.exited));

    const c = (await store.counts([queue]))[queue];
    assert.equal(c.completed, total, 'every job completed');
    assert.equal(c.failed + c.queued + c.active + c.scheduled, 0);

    const runs = runsByJob(runFiles);
    assert.equal(runs.size, total, 'every job ran');
    const reruns = [...runs.entries()].filter(([, ws]) => ws.length > 1);
    for (const [id, ws] of reruns) {
      assert.equal(ws.length, 2, `job ${id} ran at most twice`);
      assert.ok(ws.includes(0), `job ${id} ran twice without the killed worker`);
    }
    const maxLeases = 2 * concurrency;
    assert.ok(reruns.length <= maxLeases, `${reruns.length} re-runs, more than the killed worker's leases`);

    // Redelivered jobs (attempt 2) are exactly those the killed worker held: each carries
    // the stall error that names it, and there are no more than it could lease.
    const redelivered = [];
    for (let cursor: string | null = null; ; ) {
      const page = await store.list({ queue, states: ['completed'], limit: 1000, cursor });
      redelivered.push(...page.jobs.filter((j) => j.attempt > 1));
      if (!page.next) break;
      cursor = page.next;
    }
    assert.ok(redelivered.length <= maxLeases, `${redelivered.length} jobs redelivered, more than ${maxLeases}`);
    for (const j of redelivered) {
      assert.equal(j.attempt, 2);
      assert.match(j.errors[0].message, new RegExp(`worker ${workerIds[0]} stopped heartbeating`));
    }
    for (const [id] of reruns) assert.ok(redelivered.some((j) => j.id === id), `re-run job ${id} was redelivered`);
    t.diagnostic(`killed worker had ${redelivered.length} jobs in flight; ${reruns.length} of them had started and ran again`);
  } finally {
    await store.close();
  }
});

test('kill -9 of an idle worker: work handed to its parked registration runs elsewhere once the lease ends', async () => {
  const queue = 'parked';
  const store = await RedisStore.connect(REDIS_URL, { prefix });
  const raw = new Redis(REDIS_URL);
  try {
    const runFiles = [0, 1].map((i) => join(dir, `parked-runs-${i}.txt`));
    // idleMs 30 s: a registration outlives the test, so the dead worker's stays live.
    const workers = runFiles.map((f) => new Child(join(fixtures, 'worker.ts'), [REDIS_URL, prefix, queue, '4', '1500', '0', f, '30000']));
    procs.push(...workers);
    const ids = (await Promise.all(workers.map((w) => w.waitFor(/^ready /)))).map((l) => l.slice('ready '.length));
    const idle = new Keys(prefix).idle(queue);
    const parkedIds = async () => (await raw.zrange(idle, 0, -1)).map((r) => (JSON.parse(r) as { w: string }).w);
    await waitFor(async () => (await parkedIds()).length === 2, 10_000);
    workers[0].child.kill('SIGKILL');
    await workers[0].exited;
    assert.ok((await parkedIds()).includes(ids[0]), 'the dead worker is still parked');

    // One add of ten: four are leased to each parked worker at once, two wait for a claim.
    const added = await store.enqueue(Array.from({ length: 10 }, (_, i) => buildNewJob(queue, 'work', { i })));
    const states = await Promise.all(added.map(async (a) => (await store.get(a.id))!));
    assert.equal(states.filter((j) => j.state === 'active' && j.workerId === ids[0]).length, 4, 'four handed to the dead worker');

    await until(store, queue, (n) => n === 10, 20_000);
    workers[1].child.kill('SIGTERM');
    await workers[1].exited;
    const jobs = await Promise.all(added.map(async (a) => (await store.get(a.id))!));
    const again = jobs.filter((j) => j.attempt === 2);
    assert.equal(again.length, 4, 'exactly the four handed to the dead worker ran a second time');
    for (const j of again) assert.match(j.errors[0].message, new RegExp(`worker ${ids[0]} stopped heartbeating`));
    assert.equal(readFileSync(runFiles[0], { flag: 'a+' }).toString(), '', 'the dead worker ran nothing');
    assert.equal(runsByJob([runFiles[1]]).size, 10, 'the live worker ran all ten');
  } finally {
    raw.disconnect();
    await store.close();
  }
});
