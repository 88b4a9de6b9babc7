/**
 * Schedules on every backend, driven by the elected Maintainer and a test clock: one job
 * per tick (also when rounds race or a leader dies between adding and recording), catch-up
 * after an outage, overlap, limits, pause, replacement, and the jobs' schedule id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.ts';
import { NotFoundError, ValidationError } from '../../src/core/errors.ts';
import { buildNewJob } from '../../src/core/options.ts';
import { tickJobId } from '../../src/engine/schedule.ts';
import { Maintainer } from '../../src/maintainer.ts';
import { Queue } from '../../src/queue.ts';
import { runSchedules } from '../../src/scheduler.ts';
import { MemoryStore } from '../../src/stores/memory/memory-store.ts';
import type { Store } from '../../src/stores/store.ts';
import { freshQueue } from '../contract/contract.ts';
import { BACKENDS } from '../helpers/stores.ts';

const T0 = Date.UTC(2026, 0, 1);

for (const backend of BACKENDS) {
  describe(`schedules on ${backend.name}`, () => {
    const clock = new TestClock(T0);
    let store: Store;
    let upkeep: Maintainer;
    before(async () => {
      store = await backend.open(clock);
      upkeep = new Maintainer(store, { intervalMs: 200 });
    });
    after(async () => {
      await upkeep.stop();
      await store.close();
    });

    const jobsOf = async (q: Queue) => (await q.getJobs({ order: 'asc', limit: 1000 })).jobs;

    test('every: one job per tick, carrying the schedule id; schedules() shows progress', async () => {
      const q = new Queue(store, freshQueue());
      const s = await q.schedule('tick', { every: 1000, name: 'beat', data: { n: 1 }, opts: { attempts: 2 } });
      assert.equal(s.nextRunAt, clock.now());
      await upkeep.runOnce();
      clock.advance(999);
      await upkeep.runOnce();
      clock.advance(1);
      await upkeep.runOnce();
      const jobs = await jobsOf(q);
      assert.deepEqual(jobs.map((j) => j.id), [tickJobId(s, T0), tickJobId(s, T0 + 1000)].map(String));
      assert.deepEqual(jobs.map((j) => [j.name, j.scheduleId, j.maxAttempts, (j.data as { n: number }).n]), [['beat', 'tick', 2, 1], ['beat', 'tick', 2, 1]]);
      const [listed] = await q.schedules();
      assert.deepEqual([listed.runs, listed.nextRunAt, listed.lastJobId], [2, clock.now() + 1000, jobs[1].id]);
      assert.equal(await q.unschedule('tick'), true);
      assert.equal(await q.unschedule('tick'), false);
      clock.advance(1000);
      await upkeep.runOnce();
      assert.equal((await jobsOf(q)).length, 2, 'no runs after unschedule');
    });

    test('two rounds racing, and a leader that died between adding and recording: still one job per tick', async () => {
      const q = new Queue(store, freshQueue());
      const s = await q.schedule('race', { every: 1000, name: 'r' });
      await Promise.all([runSchedules(store, clock.now(), 400), runSchedules(store, clock.now(), 400)]);
      // A leader that added the next tick's job and died before recording it:
      clock.advance(1000);
      await store.enqueue([{ ...buildNewJob(q.name, 'r', null, { jobId: tickJobId(s, clock.now()) }), scheduleId: 'race' }]);
      await runSchedules(store, clock.now(), 400);
      const jobs = await jobsOf(q);
      assert.equal(jobs.length, 2);
      assert.equal((await q.getSchedule('race'))!.runs, 2, 'each tick counted once');
      await q.unschedule('race');
    });

    test('after a 5-tick outage: catchUp none adds nothing, one adds one, all adds five', async () => {
      const queues = { none: new Queue(store, freshQueue()), one: new Queue(store, freshQueue()), all: new Queue(store, freshQueue()) };
      for (const [mode, q] of Object.entries(queues)) await q.schedule('c', { every: 1000, name: 't', catchUp: mode as 'none' | 'one' | 'all' });
      await upkeep.runOnce();
      clock.advance(5500);
      await upkeep.runOnce();
      const counts = [];
      for (const q of Object.values(queues)) counts.push((await jobsOf(q)).length);
      assert.deepEqual(counts, [1 + 0, 1 + 1, 1 + 5]);
      clock.advance(500);
      await upkeep.runOnce();
      const after = [];
      for (const q of Object.values(queues)) after.push((await jobsOf(q)).length);
      assert.deepEqual(after, [2, 3, 7], 'each goes on with the next tick');
      for (const q of Object.values(queues)) await q.unschedule('c');
    });

    test('overlap skip: no run while the previous job is unfinished', async () => {
      const q = new Queue(store, freshQueue());
      await q.schedule('slow', { every: 1000, name: 't', overlap: 'skip' });
      await upkeep.runOnce();
      clock.advance(1000);
      await upkeep.runOnce();
      let s = (await q.getSchedule('slow'))!;
      assert.deepEqual([s.runs, s.skips], [1, 1]);
      const [job] = await store.claim({ queues: [q.name], workerId: 'w', limit: 5, leaseMs: 60_000 });
      await store.finish([{ id: job.id, token: job.token, kind: 'completed', result: null }]);
      clock.advance(1000);
      await upkeep.runOnce();
      s = (await q.getSchedule('slow'))!;
      assert.deepEqual([s.runs, s.skips, (await jobsOf(q)).length], [2, 1, 2]);
      await q.unschedule('slow');
    });

    test('limit, pause and resume, and replacing a schedule between runs', async () => {
      const q = new Queue(store, freshQueue());
      await q.schedule('p', { every: 1000, name: 't', limit: 3, data: { v: 1 } });
      await upkeep.runOnce();
      await q.pauseSchedule('p');
      clock.advance(3000);
      await upkeep.runOnce();
      assert.equal((await jobsOf(q)).length, 1, 'nothing runs while paused');
      const resumed = await q.resumeSchedule('p');
      assert.equal(resumed.nextRunAt, clock.now(), 'resumes from now; paused runs are not made up');
      // Given again with new data (as a process would at start-up): progress kept, new data used.
      await q.schedule('p', { every: 1000, name: 't', limit: 3, data: { v: 2 } });
      await upkeep.runOnce();
      clock.advance(1000);
      await upkeep.runOnce();
      clock.advance(1000);
      await upkeep.runOnce();
      const jobs = await jobsOf(q);
      assert.deepEqual(jobs.map((j) => (j.data as { v: number }).v), [1, 2, 2], 'three runs in all (limit)');
      assert.equal((await q.getSchedule('p'))!.nextRunAt, null, 'ended');
      await assert.rejects(q.pauseSchedule('missing'), NotFoundError);
      await assert.rejects(q.schedule('bad', { cron: 'not cron', name: 't' }), ValidationError);
      assert.equal(await q.getSchedule('bad'), null, 'a refused schedule changes nothing');
    });

    test('a cron schedule in a time zone', async () => {
      const q = new Queue(store, freshQueue());
      const s = await q.schedule('morning', { cron: '0 9 * * 1-5', tz: 'Europe/Berlin', name: 'report' });
      // 2026-01-01 is a Thursday: 09:00 in Berlin is 08:00 UTC.
      assert.equal(new Date(s.nextRunAt!).toISOString(), '2026-01-01T08:00:00.000Z');
      await q.unschedule('morning');
    });
  });
}

test('a schedule that can no longer make its job is reported; the others still run', async () => {
  const clock = new TestClock(T0);
  const store = new MemoryStore({ clock });
  const q = new Queue(store, 'sched-errors');
  await q.schedule('good', { every: 1000, name: 'ok' });
  // Written as an older version might have: a job name that is now refused.
  const [good] = await q.schedules();
  await store.saveSchedule({ ...good, id: 'bad', name: 'constructor' });
  const errors: Error[] = [];
  const round = await runSchedules(store, clock.now(), 400, (e) => errors.push(e));
  assert.equal(round.runs, 1, 'the good one ran');
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /schedule bad of queue sched-errors: name "constructor" is reserved/);
  await store.close();
});
