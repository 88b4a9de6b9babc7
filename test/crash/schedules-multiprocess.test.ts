/**
 * A schedule on one SQLite file shared by three worker processes and a server, each
 * running a Maintainer: ten runs of `every: 1000` make exactly ten jobs, one per tick,
 * although the process doing upkeep is killed with SIGKILL in the middle (another takes
 * over when its leadership lease runs out, and catches up the ticks it missed).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Queue } from '../../src/queue.ts';
import { openStore } from '../../src/stores/open.ts';
import { tickJobId } from '../../src/engine/schedule.ts';
import { spawnTs, type Proc } from '../helpers/procs.ts';
import { serve } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-sched-mp-'));
const fixture = new URL('../fixtures/procs/upkeep-worker.ts', import.meta.url).pathname;
const procs: Proc[] = [];
after(() => {
  for (const p of procs) p.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('three workers and a server, upkeep killed mid-run: exactly one job per tick', { timeout: 90_000 }, async () => {
  const db = join(dir, 'shared.db');
  const workers = [1, 2, 3].map(() => spawnTs(fixture, [db, 'ticks', '200']));
  procs.push(...workers);
  await Promise.all(workers.map((w) => w.waitFor(/^ready$/)));
  const server = await serve(['--db', db, '--maintain-every', '200']);
  procs.push(server);
  const store = await openStore(db);
  const queue = new Queue(store, 'ticks');
  // The schedule's jobs as the other processes add and finish them (events cross the file).
  const added = new Set<string>();
  const completed = new Set<string>();
  const waiters: (() => void)[] = [];
  store.subscribe((e) => {
    if (e.queue !== 'ticks' || !e.jobId) return;
    if (e.type === 'added') added.add(e.jobId);
    if (e.type === 'completed') completed.add(e.jobId);
    waiters.splice(0).forEach((w) => w());
  });
  const until = async (cond: () => boolean) => {
    while (!cond()) await new Promise<void>((r) => waiters.push(r));
  };
  const startAt = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  const s = await queue.schedule('beat', { every: 1000, name: 'beat', startAt, limit: 10, catchUp: 'all' });
  // Whoever leads now is killed once four ticks have run.
  const leader = await Promise.race(workers.map((w) => w.waitFor(/^leading$/, 10_000).then(() => w)));
  await until(() => added.size >= 4);
  leader.child.kill('SIGKILL');
  await leader.exited;
  // The others take over; every tick's job is added and run (the killed worker's, after its lease).
  await until(() => completed.size >= 10);
  const jobs = (await queue.getJobs({ order: 'asc', limit: 100 })).jobs;
  assert.deepEqual(
    jobs.map((j) => j.id).sort(),
    Array.from({ length: 10 }, (_, k) => tickJobId(s, startAt + k * 1000)).sort(),
    'one job for each of the ten ticks: none lost, none doubled',
  );
  assert.ok(jobs.every((j) => j.scheduleId === 'beat'));
  const final = (await queue.getSchedule('beat'))!;
  assert.deepEqual([final.runs, final.nextRunAt], [10, null]);
  await queue.close();
  await store.close();
});
