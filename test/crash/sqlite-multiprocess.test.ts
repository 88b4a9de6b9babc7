/**
 * Many processes, one SQLite file: a producer and three worker processes share the file;
 * every job completes exactly once. Then a worker is killed with SIGKILL mid-job: its jobs
 * run again after their lease expires, and nothing is lost.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../src/stores/open.ts';
import type { Store } from '../../src/stores/store.ts';
import { spawnTs, type Proc } from '../helpers/procs.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-mp-'));
const fixtures = new URL('../fixtures/procs/', import.meta.url).pathname;
const procs: Proc[] = [];
after(() => {
  for (const p of procs) p.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function allFinished(store: Store, queue: string, total: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = (await store.counts([queue]))[queue];
    if (c.completed + c.failed === total) return;
    if (Date.now() > deadline) throw new Error(`not all jobs finished: ${JSON.stringify(c)}`);
    await sleep(100);
  }
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

test('a producer and three worker processes on one file: every job completes once', async () => {
  const db = join(dir, 'shared.db');
  const total = 3000;
  const workers = [1, 2, 3].map(() => spawnTs(join(fixtures, 'worker.ts'), [db, 'mp', '8', '5000', '1']));
  procs.push(...workers);
  await Promise.all(workers.map((w) => w.waitFor(/^ready$/)));
  const producer = spawnTs(join(fixtures, 'producer.ts'), [db, 'mp', String(total), '100', 'a']);
  procs.push(producer);
  await producer.waitFor(/^added /);
  const store = await openStore(db);
  try {
    await allFinished(store, 'mp', total, 60_000);
    const jobs = await everyJob(store, 'mp');
    assert.equal(jobs.length, total);
    assert.ok(jobs.every((j) => j.state === 'completed' && j.attempt === 1), 'every job completed on its first attempt');
    assert.deepEqual(new Set(jobs.map((j) => (j.data as { i: number }).i)).size, total);
    const pids = new Set(jobs.map((j) => (j.result as { by: number }).by));
    assert.ok(pids.size >= 2, `work was shared between processes (${pids.size})`);
    const started = workers.flatMap((w) => w.lines.filter((l) => l.startsWith('active ')));
    assert.equal(started.length, total, 'no job was started twice');
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await store.close();
  }
});

test('kill -9 a worker mid-job: its jobs run again after the lease expires and all complete', async () => {
  const db = join(dir, 'crash.db');
  const total = 600;
  const leaseMs = 1000;
  const concurrency = 5;
  const store = await openStore(db);
  try {
    const victim = spawnTs(join(fixtures, 'worker.ts'), [db, 'crash', String(concurrency), String(leaseMs), '60000']);
    procs.push(victim);
    await victim.waitFor(/^ready$/);
    const producer = spawnTs(join(fixtures, 'producer.ts'), [db, 'crash', String(total), '50', 'b']);
    procs.push(producer);
    await producer.waitFor(/^added /);
    // The victim takes `concurrency` jobs and hangs on them; kill it while they run.
    for (let i = 0; victim.lines.filter((l) => l.startsWith('active ')).length < concurrency; i++) await sleep(20);
    const inFlight = victim.lines.filter((l) => l.startsWith('active ')).map((l) => l.slice(7));
    victim.child.kill('SIGKILL');
    await victim.exited;
    const survivors = [1, 2].map(() => spawnTs(join(fixtures, 'worker.ts'), [db, 'crash', '10', String(leaseMs), '1']));
    procs.push(...survivors);
    await allFinished(store, 'crash', total, 60_000);
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
