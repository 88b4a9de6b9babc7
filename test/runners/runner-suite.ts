/**
 * The thread and process runners under a real Worker and store. Each backend's
 * *.test.ts calls runRunnerSuite with a factory for a fresh, isolated store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ProcessRunner } from '../../src/runners/process.ts';
import { ThreadRunner } from '../../src/runners/thread.ts';
import type { Store } from '../../src/stores/store.ts';
import { add, freshQueue } from '../contract/contract.ts';
import { finished, firstLog, JOBS_MODULE, linesOf, nextEvent, nextExit, startWorker } from './helpers.ts';

/** Generous bound on the lap between a cancel and the kill: a wake-up, not a speed claim. */
const LENIENT_MS = 5_000;

export function runRunnerSuite(backend: string, factory: () => Promise<Store>): void {
  describe(`thread and process runners on ${backend}`, () => {
    let store: Store;
    before(async () => {
      store = await factory();
    });
    after(async () => {
      await store.close();
    });

    test('process: stdout and stderr lines land in the job logs, each tagged with its stream', async () => {
      const q = freshQueue('proc-out');
      const runner = new ProcessRunner({ module: JOBS_MODULE, export: 'print' });
      const worker = await startWorker(store, { queues: [q], handlers: { print: runner } });
      try {
        const out = ['first', 'with  spaces ', '', 'ünïcödé ✓'];
        const err = ['warning: one', 'warning: two'];
        const { id } = await add(store, q, 'print', { out, err, tail: 'no newline at the end' });
        const job = await finished(store, id);
        assert.equal(job.state, 'completed');
        const logs = await store.logs(id);
        assert.deepEqual(linesOf(logs, 'stdout'), [...out, 'no newline at the end']);
        assert.deepEqual(linesOf(logs, 'stderr'), err);
        assert.equal(logs.length, out.length + 1 + err.length);
        assert.equal(job.logCount, logs.length);
      } finally {
        await worker.close();
      }
    });

    test('process: a reused child gives each job exactly its own lines, partial last lines included', async () => {
      const q = freshQueue('proc-reuse');
      const runner = new ProcessRunner({ module: JOBS_MODULE, export: 'print' });
      const worker = await startWorker(store, { queues: [q], handlers: { print: runner }, concurrency: 1 });
      try {
        const a = await add(store, q, 'print', { out: ['a1', 'a2'], err: ['a-err'], tail: 'a-partial' });
        const b = await add(store, q, 'print', { out: ['b1'], tail: 'b-partial' });
        const [ja, jb] = [await finished(store, a.id), await finished(store, b.id)];
        assert.equal((ja.result as { pid: number }).pid, (jb.result as { pid: number }).pid, 'the second job ran in the same child');
        const [la, lb] = [await store.logs(a.id), await store.logs(b.id)];
        assert.deepEqual(linesOf(la, 'stdout'), ['a1', 'a2', 'a-partial']);
        assert.deepEqual(linesOf(la, 'stderr'), ['a-err']);
        assert.deepEqual(linesOf(lb, 'stdout'), ['b1', 'b-partial']);
        assert.deepEqual(linesOf(lb, 'stderr'), []);
      } finally {
        await worker.close();
      }
    });

    for (const Runner of [ProcessRunner, ThreadRunner]) {
      const kind = Runner === ProcessRunner ? 'process' : 'thread';

      test(`${kind}: progress, message and ctx.log from inside reach the store; the result comes back`, async () => {
        const q = freshQueue(`${kind}-report`);
        const worker = await startWorker(store, { queues: [q], handlers: { report: new Runner({ module: JOBS_MODULE, export: 'report' }) } });
        try {
          const { id } = await add(store, q, 'report');
          const progress = nextEvent(store, (e) => e.jobId === id && e.type === 'progress' && e.progress === 40);
          const job = await finished(store, id);
          assert.equal((await progress).message, 'step 2/5');
          assert.equal(job.state, 'completed');
          assert.equal(job.result, 'reported');
          assert.equal(job.progress, 100);
          const logs = await store.logs(id);
          assert.deepEqual(linesOf(logs, 'log'), ['from ctx.log']);
          assert.deepEqual(linesOf(logs, 'stderr'), ['to stderr via ctx']);
        } finally {
          await worker.close();
        }
      });

      test(`${kind}: a busy-looping job is killed within the grace period after cancel and ends canceled`, async () => {
        const q = freshQueue(`${kind}-cancel`);
        const runner = new Runner({ module: JOBS_MODULE, export: 'spin', graceMs: 200 });
        const worker = await startWorker(store, { queues: [q], handlers: { spin: runner } });
        try {
          const { id } = await add(store, q, 'spin', { ms: 120_000 });
          await firstLog(store, id);
          const exited = nextExit(runner);
          const t0 = Date.now();
          await store.cancel([id], 'stopped by the test');
          const exit = await exited;
          const lap = Date.now() - t0;
          assert.equal(exit.stopped, true);
          // A spinning child never runs its SIGTERM handler: only the kill ends it.
          if (kind === 'process') assert.equal(exit.signal, 'SIGKILL');
          assert.ok(lap < 200 + LENIENT_MS, `killed ${lap} ms after the cancel`);
          const job = (await store.get(id))!;
          assert.equal(job.state, 'canceled');
          assert.equal(job.message, 'stopped by the test');
          assert.equal(worker.activeCount, 0);
          assert.equal(runner.size, 0, 'a stopped host is not kept');
        } finally {
          await worker.close();
        }
      });

      test(`${kind}: a handler that honours its signal ends without being killed`, async () => {
        const q = freshQueue(`${kind}-coop`);
        const runner = new Runner({ module: JOBS_MODULE, export: 'waitForStop', graceMs: 60_000 });
        const worker = await startWorker(store, { queues: [q], handlers: { waitForStop: runner } });
        try {
          const { id } = await add(store, q, 'waitForStop');
          await firstLog(store, id);
          const exited = nextExit(runner);
          await store.cancel([id], 'polite stop');
          const exit = await exited;
          assert.equal(exit.stopped, true);
          if (kind === 'process') assert.deepEqual([exit.code, exit.signal], [0, null], 'the child exited by itself after SIGTERM');
          assert.equal((await store.get(id))!.state, 'canceled');
        } finally {
          await worker.close();
        }
      });

      test(`${kind}: a timeout stops a runaway job and fails it with the timeout`, async () => {
        const q = freshQueue(`${kind}-timeout`);
        const runner = new Runner({ module: JOBS_MODULE, export: 'spin', graceMs: 100 });
        const worker = await startWorker(store, { queues: [q], handlers: { spin: runner } });
        try {
          const exited = nextExit(runner);
          const { id } = await add(store, q, 'spin', { ms: 120_000 }, { timeout: 300 });
          const job = await finished(store, id);
          assert.equal(job.state, 'failed');
          assert.match(job.errors[0].message, /timed out after 300 ms/);
          const exit = await exited;
          assert.equal(exit.stopped, true);
          // Once spinning (it logs first), only the kill ends it; a child still starting up
          // when the timeout fires has no SIGTERM handler yet and may end by SIGTERM itself.
          if (kind === 'process' && job.logCount > 0) assert.equal(exit.signal, 'SIGKILL');
          if (kind === 'process') assert.ok(exit.signal === 'SIGKILL' || exit.signal === 'SIGTERM', `ended by ${exit.signal}`);
        } finally {
          await worker.close();
        }
      });

      test(`${kind}: a crash fails its job with the exit code; the worker lives on and the next job runs`, async () => {
        const q = freshQueue(`${kind}-crash`);
        const runner = new Runner({ module: JOBS_MODULE, export: 'crash' });
        const worker = await startWorker(store, { queues: [q], handlers: { crash: runner }, concurrency: 1 });
        try {
          const a = await add(store, q, 'crash', { how: 'exit', code: 3 });
          const b = await add(store, q, 'crash', { how: 'uncaught' });
          const c = await add(store, q, 'crash', { how: 'none' });
          const [ja, jb, jc] = [await finished(store, a.id), await finished(store, b.id), await finished(store, c.id)];
          assert.equal(ja.state, 'failed');
          assert.match(ja.errors[0].message, /exited with code 3 before the job finished/);
          assert.deepEqual(linesOf(await store.logs(a.id), 'stdout'), ['about to crash']);
          assert.equal(jb.state, 'failed');
          assert.match(jb.errors[0].message, /uncaught TypeError: thrown outside the handler/);
          assert.match(jb.errors[0].stack ?? '', /jobs\.ts/, 'the stack of the uncaught error is kept');
          assert.equal(jc.state, 'completed');
          assert.equal(jc.result, 'did not crash');
        } finally {
          await worker.close();
        }
      });

      test(`${kind}: errors keep message and stack; UnrecoverableError is not retried`, async () => {
        const q = freshQueue(`${kind}-errors`);
        const worker = await startWorker(store, {
          queues: [q],
          handlers: {
            unrecoverable: new Runner({ module: JOBS_MODULE, export: 'failUnrecoverable' }),
            plain: new Runner({ module: JOBS_MODULE, export: 'failPlain' }),
            badResult: new Runner({ module: JOBS_MODULE, export: 'badResult' }),
            missing: new Runner({ module: JOBS_MODULE, export: 'notAFunction' }),
          },
        });
        try {
          const u = await add(store, q, 'unrecoverable', {}, { attempts: 3 });
          const p = await add(store, q, 'plain', {}, { attempts: 2 });
          const r = await add(store, q, 'badResult');
          const m = await add(store, q, 'missing', {}, { attempts: 5 });
          const ju = await finished(store, u.id);
          assert.equal(ju.state, 'failed');
          assert.equal(ju.attempt, 1, 'not retried');
          assert.equal(ju.errors[0].message, 'bad input, do not retry');
          assert.match(ju.errors[0].stack ?? '', /failUnrecoverable .*jobs\.ts/);
          const jp = await finished(store, p.id);
          assert.equal(jp.attempt, 2, 'retried');
          assert.equal(jp.errors[0].message, 'plain failure');
          assert.match(jp.errors[0].stack ?? '', /^RangeError: plain failure\n.*failPlain/);
          const jr = await finished(store, r.id);
          assert.match(jr.errors[0].message, /result could not be sent to the parent/);
          const jm = await finished(store, m.id);
          assert.equal(jm.attempt, 1);
          assert.match(jm.errors[0].message, /no function export "notAFunction"/);
        } finally {
          await worker.close();
        }
      });

      test(`${kind}: removing a running job stops it first`, async () => {
        const q = freshQueue(`${kind}-remove`);
        const runner = new Runner({ module: JOBS_MODULE, export: 'spin', graceMs: 100 });
        const worker = await startWorker(store, { queues: [q], handlers: { spin: runner } });
        try {
          const { id } = await add(store, q, 'spin', { ms: 120_000 });
          await firstLog(store, id);
          const exited = nextExit(runner);
          await store.remove([id]);
          assert.equal((await exited).stopped, true);
          assert.equal(await store.get(id), null);
        } finally {
          await worker.close();
        }
      });

      test(`${kind}: isolate runs every job in a fresh ${kind}; the pool reuses one otherwise`, async () => {
        const q = freshQueue(`${kind}-isolate`);
        const isolated = new Runner({ module: JOBS_MODULE, export: 'whoami', isolate: true });
        const pooled = new Runner({ module: JOBS_MODULE, export: 'whoami' });
        const worker = await startWorker(store, { queues: [q], handlers: { isolated, pooled }, concurrency: 1 });
        try {
          const ids = [];
          for (const name of ['isolated', 'isolated', 'pooled', 'pooled']) ids.push((await add(store, q, name, { name })).id);
          const where = [];
          for (const id of ids) {
            const job = await finished(store, id);
            assert.equal(job.state, 'completed');
            const r = job.result as { pid: number; threadId: number; data: unknown };
            assert.deepEqual(r.data, (await store.get(id))!.data);
            where.push(kind === 'process' ? r.pid : r.threadId);
          }
          assert.notEqual(where[0], where[1]);
          assert.equal(where[2], where[3]);
          assert.equal(isolated.size, 0);
        } finally {
          await worker.close();
        }
      });
    }

    test('thread: a CPU-bound job with a short lease completes once, on attempt 1', async () => {
      const q = freshQueue('thread-cpu');
      const events: string[] = [];
      const off = store.subscribe((e) => {
        if (e.queue === q) events.push(e.type);
      });
      // leaseMs 300 with the reclaimer running every 50 ms: had the heartbeat starved
      // while the handler blocks for 2 s, the job would be reclaimed and run again.
      const worker = await startWorker(store, {
        queues: [q],
        handlers: { cpu: new ThreadRunner({ module: JOBS_MODULE, export: 'cpu' }) },
        leaseMs: 300,
        maintainMs: 50,
      });
      try {
        const { id } = await add(store, q, 'cpu', { ms: 2_000 }, { attempts: 3 });
        const job = await finished(store, id);
        assert.equal(job.state, 'completed');
        assert.equal(job.attempt, 1);
        assert.deepEqual(job.errors, []);
        assert.equal((job.result as { loops: boolean }).loops, true);
        assert.equal(events.filter((t) => t === 'active').length, 1, 'claimed once');
        assert.equal(events.filter((t) => t === 'stalled').length, 0);
      } finally {
        off();
        await worker.close();
      }
    });
  });
}
