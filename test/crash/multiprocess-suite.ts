/**
 * Many processes, one store: a producer and three worker processes share it; every job
 * completes exactly once. Then a worker is killed with SIGKILL mid-job: its jobs run again
 * after their lease expires, and nothing is lost. Run on every store several processes can
 * share (sqlite-multiprocess.test.ts, postgres-multiprocess.test.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Store } from '../../src/stores/store.ts';
import { spawnTs, type Proc } from '../helpers/procs.ts';
import { untilCompleted } from '../helpers/completed.ts';

const fixtures = new URL('../fixtures/procs/', import.meta.url).pathname;
const procs: Proc[] = [];
after(() => {
  for (const p of procs) p.child.kill('SIGKILL');
});

/** A store the processes share: its spec, what the processes need in their environment, and how a test opens it. */
export interface SharedStore {
  spec: string;
  env: NodeJS.ProcessEnv;
  open(): Promise<Store>;
}

async function everyJob(store: Store, queue: string) {
  const jobs = [];
  for (let cursor: string | null = null; ; ) {
    const page = await store.list({ queue, limit: 1000, cursor, order: 'asc' });
    jobs.push(...page.jobs);
    if (!page.next) return jobs;
    cursor = page.next;
  }
}

export function multiprocessSuite(label: string, shared: (name: string) => SharedStore): void {
test(`${label}: a producer and three worker processes on one store: every job completes once`, async () => {
  const { spec: db, env, open } = shared('shared');
  const total = 3000;
  const workers = [1, 2, 3].map(() => spawnTs(join(fixtures, 'worker.ts'), [db, 'mp', '8', '5000', '1'], env));
  procs.push(...workers);
  await Promise.all(workers.map((w) => w.waitFor(/^ready$/)));
  const producer = spawnTs(join(fixtures, 'producer.ts'), [db, 'mp', String(total), '100', 'a'], env);
  procs.push(producer);
  await producer.waitFor(/^added /);
  const store = await open();
  try {
    await untilCompleted(store, 'mp', total, 60_000);
    const jobs = await everyJob(store, 'mp');
    assert.equal(jobs.length, total);
    assert.ok(jobs.every((j) => j.state === 'completed' && j.attempt === 1), 'every job completed on its first attempt');
    assert.deepEqual(new Set(jobs.map((j) => (j.data as { i: number }).i)).size, total);
    const pids = new Set(jobs.map((j) => (j.result as { by: number }).by));
    assert.ok(pids.size >= 2, `work was shared between processes (${pids.size})`);
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await store.close();
  }
  // Counted once every line the workers wrote has been read: the jobs can all be done before
  // this process has read their output.
  await Promise.all(workers.map((w) => w.read));
  const started = workers.flatMap((w) => w.lines.filter((l) => l.startsWith('active ')));
  assert.equal(started.length, total, 'no job was started twice');
});

test(`${label}: kill -9 a worker mid-job: its jobs run again after the lease expires and all complete`, async () => {
  const { spec: db, env, open } = shared('crash');
  const total = 600;
  const leaseMs = 1000;
  const concurrency = 5;
  const store = await open();
  try {
    const victim = spawnTs(join(fixtures, 'worker.ts'), [db, 'crash', String(concurrency), String(leaseMs), '60000'], env);
    procs.push(victim);
    await victim.waitFor(/^ready$/);
    const producer = spawnTs(join(fixtures, 'producer.ts'), [db, 'crash', String(total), '50', 'b'], env);
    procs.push(producer);
    await producer.waitFor(/^added /);
    // The victim takes `concurrency` jobs and hangs on them; kill it while they run.
    await victim.waitForCount(/^active /, concurrency);
    const inFlight = victim.lines.filter((l) => l.startsWith('active ')).map((l) => l.slice(7));
    victim.child.kill('SIGKILL');
    await victim.exited;
    const survivors = [1, 2].map(() => spawnTs(join(fixtures, 'worker.ts'), [db, 'crash', '10', String(leaseMs), '1'], env));
    procs.push(...survivors);
    await untilCompleted(store, 'crash', total, 60_000);
    const jobs = await everyJob(store, 'crash');
    assert.equal(jobs.length, total);
    assert.ok(jobs.every((j) => j.state === 'completed'), 'every job completed');
    const rerun = jobs.filter((j) => j.attempt > 1).map((j) => j.id).sort();
    assert.deepEqual(rerun, [...inFlight].sort(), 'only the killed worker\'s in-flight jobs ran twice');
    for (const j of jobs.filter((x) => x.attempt > 1)) assert.match(j.errors[0].message, /lease expired/);
    for (const w of survivors) w.child.kill('SIGTERM');
    await Promise.all(survivors.map((w) => w.exited));
  } finally {
    await store.close();
  }
});
}
