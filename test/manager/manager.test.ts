/**
 * The job manager's rules on the Queue/Worker API, on every backend: add without start,
 * max concurrent jobs, max queue size with eviction (or refusal), per-type limits,
 * retention, run-or-queue, logs per stream, health, graceful shutdown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AbortedError, QueueFullError, ValidationError } from '../../src/core/errors.ts';
import { JobManager, type ManagerOptions } from '../../src/manager.ts';
import { ProcessRunner } from '../../src/runners/process.ts';
import type { Store } from '../../src/stores/store.ts';
import { freshQueue } from '../contract/contract.ts';
import { BACKENDS } from '../helpers/stores.ts';
import { firstLog, JOBS_MODULE, nextExit } from '../runners/helpers.ts';

/** A handler that holds every call until the test opens the gate. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  let markStarted!: () => void;
  const started = new Promise<void>((r) => (markStarted = r));
  let running = 0;
  const stats = { peak: 0, calls: 0 };
  const handler = async (job: { data: unknown }) => {
    stats.calls++;
    markStarted();
    stats.peak = Math.max(stats.peak, ++running);
    await opened;
    running--;
    return job.data;
  };
  return { handler, open, started, stats };
}

for (const backend of BACKENDS) {
  // A lost wake-up would leave a job waiting for the 10-minute idle sleep: the timeout says so.
  describe(`JobManager on ${backend.name}`, { timeout: 120_000 }, () => {
    let store: Store;
    const managers: JobManager[] = [];
    before(async () => {
      store = await backend.open();
    });
    after(async () => {
      await Promise.all(managers.map((m) => m.close()));
      await store.close();
    });

    async function open(options: ManagerOptions): Promise<JobManager> {
      const m = await JobManager.open({ store, queue: freshQueue('mgr'), worker: { maintainMs: 0, idleMs: 600_000 }, ...options });
      managers.push(m);
      return m;
    }

    test('run-or-queue: a direct call returns the result, a queued one a job id to wait on', async () => {
      const m = await open({
        commands: {
          add: { handler: (job) => (job.data as { a: number; b: number }).a + (job.data as { a: number; b: number }).b },
          slow: { handler: async () => 'queued result', useQueue: true },
          broken: { handler: () => Promise.reject(new Error('it broke')), useQueue: true },
        },
      });
      assert.deepEqual(await m.run('add', { a: 2, b: 3 }), { queued: false, result: 5 });
      const queued = await m.run('slow');
      assert.equal(queued.queued, true);
      assert.ok(queued.queued && typeof queued.jobId === 'string');
      if (queued.queued) assert.equal(await m.wait(queued.jobId), 'queued result');
      // The flag can be flipped per call.
      const viaQueue = await m.run('add', { a: 1, b: 1 }, { useQueue: true });
      if (!viaQueue.queued) assert.fail('expected a job id');
      assert.equal(await m.wait(viaQueue.jobId), 2);
      assert.deepEqual(await m.run('slow', {}, { useQueue: false }), { queued: false, result: 'queued result' });
      const broken = await m.run('broken');
      if (!broken.queued) assert.fail('expected a job id');
      await assert.rejects(m.wait(broken.jobId), /it broke/);
      await assert.rejects(m.run('broken', {}, { useQueue: false }), /it broke/);
      await assert.rejects(m.run('nope'), ValidationError);
      await assert.rejects(m.run('add', 1n as unknown), ValidationError);
    });

    test('a job added without starting stays pending until started', async () => {
      const m = await open({ commands: { echo: { handler: (job) => job.data, useQueue: true } } });
      const r = await m.run('echo', { x: 1 }, { start: false });
      if (!r.queued) assert.fail('expected a job id');
      assert.equal(r.state, 'pending');
      assert.equal((await m.health()).counts?.pending, 1);
      await m.queue.start(r.jobId);
      assert.deepEqual(await m.wait(r.jobId), { x: 1 });
    });

    test('never more than maxConcurrentJobs run at once; the rest wait queued', async () => {
      const g = gate();
      const m = await open({ maxConcurrentJobs: 2, commands: { hold: { handler: g.handler, useQueue: true } } });
      const ids: string[] = [];
      const twoActive = new Promise<void>((resolve) => {
        let n = 0;
        const off = store.subscribe((e) => {
          if (e.queue === m.queue.name && e.type === 'active' && ++n === 2) {
            off();
            resolve();
          }
        });
      });
      for (let i = 0; i < 4; i++) {
        const r = await m.run('hold', i);
        if (r.queued) ids.push(r.jobId);
      }
      await twoActive;
      const counts = (await m.health()).counts!;
      assert.equal(counts.active, 2);
      assert.equal(counts.queued, 2);
      g.open();
      assert.deepEqual(await Promise.all(ids.map((id) => m.wait(id))), [0, 1, 2, 3]);
      assert.equal(g.stats.peak, 2);
    });

    test('a full queue evicts its oldest unfinished job, or refuses the add when asked', async () => {
      const evicting = await open({ maxQueueSize: 2, commands: { t: { handler: () => 1, useQueue: true } } });
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const r = await evicting.run('t', i, { start: false });
        if (r.queued) ids.push(r.jobId);
      }
      assert.equal(await evicting.queue.getJob(ids[0]), null, 'the oldest was evicted');
      assert.ok(await evicting.queue.getJob(ids[1]));
      assert.equal((await evicting.health()).counts?.pending, 2);

      const refusing = await open({ maxQueueSize: 2, overflow: 'reject', commands: { t: { handler: () => 1, useQueue: true } } });
      await refusing.run('t', 1, { start: false });
      await refusing.run('t', 2, { start: false });
      await assert.rejects(refusing.run('t', 3, { start: false }), QueueFullError);
      assert.equal((await refusing.health()).totalJobs, 2, 'the refused add changed nothing');
    });

    test('per-type limits evict the oldest job of that type only', async () => {
      const m = await open({
        commands: { a: { handler: () => 'a', useQueue: true, limit: 1 }, b: { handler: () => 'b', useQueue: true } },
      });
      const a1 = await m.run('a', 1, { start: false });
      const b1 = await m.run('b', 1, { start: false });
      const a2 = await m.run('a', 2, { start: false });
      if (!a1.queued || !b1.queued || !a2.queued) assert.fail('expected job ids');
      assert.equal(await m.queue.getJob(a1.jobId), null);
      assert.ok(await m.queue.getJob(b1.jobId));
      assert.ok(await m.queue.getJob(a2.jobId));
      assert.deepEqual((await m.health()).limits.typeLimits, { a: 1 });
    });

    test('retention removes finished jobs after retentionMs; 0 keeps them', async () => {
      const keep = await open({ retentionMs: 0, commands: { t: { handler: () => 'kept', useQueue: true } } });
      const short = await open({ retentionMs: 1_000, commands: { t: { handler: () => 'gone', useQueue: true } } });
      const k = await keep.run('t');
      const s = await short.run('t');
      if (!k.queued || !s.queued) assert.fail('expected job ids');
      await keep.wait(k.jobId);
      await short.wait(s.jobId);
      // Maintenance as it would run an hour from now.
      await store.maintain(Date.now() + 3_600_000);
      assert.equal((await keep.queue.getJob(k.jobId))?.result, 'kept');
      assert.equal(await short.queue.getJob(s.jobId), null);
    });

    test('a process command: logs per stream with counts, and a stop ends it canceled', async () => {
      const m = await open({
        commands: {
          print: { module: JOBS_MODULE, export: 'print', useQueue: true },
          spin: { module: JOBS_MODULE, export: 'spin', graceMs: 100, useQueue: true },
        },
      });
      const p = await m.run('print', { out: ['line 1', 'line 2'], err: ['oops'] });
      if (!p.queued) assert.fail('expected a job id');
      await m.wait(p.jobId);
      assert.deepEqual(await m.jobLogs(p.jobId), { jobId: p.jobId, stdout: ['line 1', 'line 2'], stderr: ['oops'], log: [], stdoutLines: 2, stderrLines: 1 });
      const s = await m.run('spin', { ms: 120_000 });
      if (!s.queued) assert.fail('expected a job id');
      await firstLog(store, s.jobId);
      await m.queue.cancel(s.jobId, 'stopped via the manager');
      await assert.rejects(m.wait(s.jobId), (err: unknown) => err instanceof AbortedError && /stopped via the manager/.test(err.message));
      const health = await m.health();
      assert.deepEqual(health.commands, [
        { name: 'print', runner: 'process', useQueue: true },
        { name: 'spin', runner: 'process', useQueue: true },
      ]);
    });

    test('health reports counts, running jobs, limits and the store', async () => {
      const g = gate();
      const m = await open({ maxConcurrentJobs: 3, maxQueueSize: 50, retentionMs: 60_000, shutdownTimeoutMs: 1_000, commands: { hold: { handler: g.handler, useQueue: true } } });
      const r = await m.run('hold');
      if (!r.queued) assert.fail('expected a job id');
      await g.started;
      const h = await m.health();
      g.open();
      assert.equal(h.status, 'healthy');
      assert.equal(h.running, true);
      assert.equal(h.store.kind, store.kind);
      assert.equal(h.queue, m.queue.name);
      assert.deepEqual(h.limits, { maxConcurrentJobs: 3, maxQueueSize: 50, overflow: 'evict-oldest', typeLimits: {}, retentionMs: 60_000, shutdownTimeoutMs: 1_000 });
      assert.equal(h.totalJobs, 1);
      assert.equal(h.activeJobs, 1);
      assert.deepEqual(h.runningHere, [r.jobId]);
      await m.wait(r.jobId);
    });

    test('close() waits shutdownTimeoutMs, then stops the running child and hands its job back', async () => {
      const runner = new ProcessRunner({ module: JOBS_MODULE, export: 'spin', graceMs: 100 });
      const m = await JobManager.open({ store, queue: freshQueue('mgr-close'), shutdownTimeoutMs: 100, worker: { maintainMs: 0 }, commands: { spin: { handler: runner, useQueue: true } } });
      const r = await m.run('spin', { ms: 120_000 });
      if (!r.queued) assert.fail('expected a job id');
      await firstLog(store, r.jobId);
      const exited = nextExit(runner);
      await m.close();
      assert.equal((await exited).stopped, true);
      const job = (await store.get(r.jobId))!;
      assert.equal(job.state, 'queued', 'released for another worker');
    });

    test('bad options are refused before anything opens', async () => {
      const bad: [ManagerOptions, string][] = [
        [{ maxConcurrentJobs: 0 }, 'maxConcurrentJobs'],
        [{ maxQueueSize: -1 }, 'maxQueueSize'],
        [{ overflow: 'drop' as 'reject' }, 'overflow'],
        [{ retentionMs: -5 }, 'retentionMs'],
        [{ queue: 'has space' }, 'queue'],
        [{ commands: { x: {} } }, 'commands.x.handler'],
        [{ commands: { x: { handler: () => 1, module: JOBS_MODULE } } }, 'commands.x.handler'],
        [{ commands: { x: { handler: () => 1, limit: 0 } } }, 'commands.x.limit'],
        [{ commands: { x: { handler: () => 1, jobOptions: { attempts: 0 } } } }, 'attempts'],
        [{ commands: { x: { module: JOBS_MODULE, runner: 'inline', pool: 2 } } }, 'pool'],
      ];
      for (const [options, field] of bad) {
        await assert.rejects(
          JobManager.open({ store, ...options }),
          (err: unknown) => err instanceof ValidationError && err.field === field,
          `expected a ValidationError on ${field}`,
        );
      }
    });
  });
}
