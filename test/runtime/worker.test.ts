import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError, ValidationError } from '../../src/core/errors.ts';
import { Queue } from '../../src/queue.ts';
import type { Store } from '../../src/stores/store.ts';
import { Worker } from '../../src/worker/worker.ts';
import { freshQueue } from '../contract/contract.ts';
import { BACKENDS } from '../helpers/stores.ts';
import { TestClock } from '../../src/core/clock.ts';
import { waitFor as waitForCondition } from '../contract/contract.ts';

for (const backend of BACKENDS) {
  describe(`Worker on ${backend.name}`, () => {
    let store: Store;
    before(async () => {
      store = await backend.open();
    });
    after(() => store.close());
    // A failed assertion must not leave a worker running (it would keep the test process alive).
    const started: Worker[] = [];
    afterEach(async () => {
      await Promise.all(started.splice(0).map((w) => w.close(100)));
    });

    function setup(opts: Partial<ConstructorParameters<typeof Worker>[1]> & Pick<ConstructorParameters<typeof Worker>[1], 'handlers'>) {
      const queue = new Queue(store, freshQueue());
      const worker = new Worker(store, { queues: [queue.name], maintainMs: 0, ...opts });
      started.push(worker);
      return { queue, worker };
    }

    test('a job canceled between its claim and its start does not run: the claim reply and the cancel event raced', async () => {
      const queue = new Queue(store, freshQueue());
      const ran: unknown[] = [];
      let raced = '';
      // The store as the worker sees it: its first claim is answered only after the job it
      // took was canceled and the cancel event has arrived.
      const racing = new Proxy(store, {
        get(target, prop) {
          if (prop === 'claim') {
            return async (req: Parameters<Store['claim']>[0]) => {
              const jobs = await target.claim(req);
              if (raced === '' && jobs.length > 0) {
                raced = jobs[0].id;
                const seen = new Promise<void>((resolve) => {
                  const off = target.subscribe((e) => e.type === 'canceled' && e.jobId === raced && (off(), resolve()), ['canceled']);
                });
                await target.cancel([raced], 'changed my mind');
                await seen;
              }
              return jobs;
            };
          }
          const v = Reflect.get(target, prop) as unknown;
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
      const worker = new Worker(racing, { queues: [queue.name], maintainMs: 0, concurrency: 1, handlers: { t: (job) => void ran.push(job.data) } });
      started.push(worker);
      await queue.add('t', 'first');
      const second = await queue.add('t', 'second');
      await worker.start();
      await queue.waitUntilFinished(second.id, 5000);
      assert.deepEqual(ran, ['second']);
      assert.equal((await store.get(raced))!.state, 'canceled');
    });

    test('a worker that goes idle after every job reports itself at most once a second, and its counts arrive within that second', async () => {
      const clock = new TestClock(Date.now());
      const own = await backend.open(clock);
      let reports = 0;
      const reportWorker = own.reportWorker.bind(own);
      own.reportWorker = (info, ttlMs) => {
        reports++;
        return reportWorker(info, ttlMs);
      };
      const queue = new Queue(own, freshQueue());
      const worker = new Worker(own, { queues: [queue.name], maintainMs: 0, handlers: { t: () => null } });
      try {
        await worker.start();
        for (let i = 0; i < 20; i++) {
          const drained = once(worker, 'drained');
          const job = await queue.add('t', i);
          await queue.waitUntilFinished(job.id, 5000);
          await drained;
        }
        // One report at start, one when it first went idle: 20 before, a round trip per job.
        assert.ok(reports <= 2, `${reports} reports for 20 jobs`);
        clock.advance(1_000);
        await waitForCondition(async () => (await own.workers()).find((w) => w.id === worker.id)?.processed === 20);
      } finally {
        await worker.close();
        await own.close();
      }
    });

    test('runs handlers by job name and stores their results', async () => {
      const { queue, worker } = setup({ handlers: { double: (job) => (job.data as number) * 2, hello: async () => 'hi' } });
      const a = await queue.add('double', 21);
      const b = await queue.add('hello');
      await worker.start();
      assert.equal((await queue.waitUntilFinished(a.id, 5000)).result, 42);
      assert.equal((await queue.waitUntilFinished(b.id, 5000)).result, 'hi');
      await worker.close();
    });

    test("a batch's callback runs once every member finished, and receives their ids per outcome", async () => {
      let seen: unknown = null;
      const { queue, worker } = setup({
        handlers: {
          ok: () => 'ok',
          bad: () => {
            throw new UnrecoverableError('no');
          },
          report: (job) => {
            seen = (job.data as { batch: unknown }).batch;
            return 'reported';
          },
        },
      });
      const batch = await queue.addBatch(
        [{ name: 'ok' }, { name: 'ok' }, { name: 'bad' }, { name: 'ok', opts: { attempts: 1 } }],
        { onComplete: { name: 'report', data: { customer: 7 } } },
      );
      assert.equal(batch.jobs.length, 4);
      const before = (await queue.getBatch(batch.id))!;
      assert.deepEqual([before.total, before.pending.length, before.done, before.callbackState], [4, 4, false, 'deferred']);
      await worker.start();
      assert.equal((await queue.waitUntilFinished(batch.id, 10_000)).result, 'reported');
      const ids = batch.jobs.map((j) => j.id);
      const report = seen as { id: string; completed: string[]; failed: string[]; pending: string[]; done: boolean };
      assert.equal(report.id, batch.id);
      assert.deepEqual([...report.completed].sort(), [ids[0], ids[1], ids[3]].sort());
      assert.deepEqual(report.failed, [ids[2]]);
      assert.deepEqual([report.pending, report.done], [[], true]);
      assert.equal(((await queue.getJob(batch.id))!.data as { customer: number }).customer, 7, "the callback's own data is kept");
      const after = (await queue.getBatch(batch.id))!;
      assert.deepEqual([after.done, after.callbackState], [true, 'completed']);
      assert.equal(await queue.getBatch(ids[0]), null, 'a member is not a batch');
      await assert.rejects(queue.addBatch([], { onComplete: { name: 'report' } }), /at least one job/);
      await assert.rejects(queue.addBatch([{ name: 'ok' }], { onComplete: { name: 'report', data: 5 as never } }), /onComplete.data must be an object/);
      await assert.rejects(queue.addBatch([{ name: 'ok' }], { onComplete: { name: 'report', opts: { dependsOn: 'x' } } }), /set by the batch/);
      await assert.rejects(queue.addBatch(Array.from({ length: 10_001 }, () => ({ name: 'ok' })), { onComplete: { name: 'report' } }), /at most 10000/);
      await worker.close();
    });

    test('never runs more than its concurrency at once; all jobs complete once', async () => {
      let running = 0;
      let peak = 0;
      let runs = 0;
      const { queue, worker } = setup({
        concurrency: 4,
        handlers: {
          t: async () => {
            runs++;
            peak = Math.max(peak, ++running);
            await sleep(5);
            running--;
          },
        },
      });
      const added = await queue.addBulk(Array.from({ length: 40 }, () => ({ name: 't' })));
      await worker.start();
      await Promise.all(added.map((r) => queue.waitUntilFinished(r.id, 10_000)));
      assert.equal(runs, 40);
      assert.equal(peak, 4);
      await worker.close();
    });

    test('per-type concurrency caps one job type', async () => {
      let slow = 0;
      let peak = 0;
      const { queue, worker } = setup({
        concurrency: 5,
        handlers: {
          slow: {
            concurrency: 1,
            handler: async () => {
              peak = Math.max(peak, ++slow);
              await sleep(5);
              slow--;
            },
          },
        },
      });
      const added = await queue.addBulk(Array.from({ length: 6 }, () => ({ name: 'slow' })));
      await worker.start();
      await Promise.all(added.map((r) => queue.waitUntilFinished(r.id, 10_000)));
      assert.equal(peak, 1);
      await worker.close();
    });

    test('a failing handler retries with backoff, then fails with every error kept', async () => {
      const { queue, worker } = setup({ handlers: { flaky: () => { throw new Error('boom'); } } });
      const { id } = await queue.add('flaky', {}, { attempts: 3, backoff: 1 });
      const failed: boolean[] = [];
      worker.on('failed', (_job, _err, willRetry) => failed.push(willRetry));
      await worker.start();
      const job = await queue.waitUntilFinished(id, 5000);
      assert.equal(job.state, 'failed');
      assert.equal(job.attempt, 3);
      assert.deepEqual(job.errors.map((e) => e.message), ['boom', 'boom', 'boom']);
      assert.match(job.errors[0].stack ?? '', /boom/);
      // The worker's event follows the store's answer to its own write, which can reach it
      // after another connection delivered the job's end to waitUntilFinished.
      await waitForCondition(() => failed.length === 3);
      assert.deepEqual(failed, [true, true, false]);
      await worker.close();
    });

    test('UnrecoverableError fails at once; a custom backoff function sets the delay', async () => {
      const delays: number[] = [];
      const { queue, worker } = setup({
        handlers: {
          fatal: () => { throw new UnrecoverableError('bad input'); },
          custom: () => { throw new Error('again'); },
        },
        backoffStrategies: { linear: (attempt) => { delays.push(attempt); return 1; } },
      });
      const a = await queue.add('fatal', {}, { attempts: 5 });
      const b = await queue.add('custom', {}, { attempts: 3, backoff: { type: 'custom', name: 'linear' } });
      await worker.start();
      const ja = await queue.waitUntilFinished(a.id, 5000);
      assert.equal(ja.state, 'failed');
      assert.equal(ja.attempt, 1);
      assert.equal((await queue.waitUntilFinished(b.id, 5000)).attempt, 3);
      assert.deepEqual(delays, [1, 2, 3]);
      await worker.close();
    });

    test('a timeout aborts the handler through its signal and fails the attempt', async () => {
      let aborted = false;
      const { queue, worker } = setup({
        handlers: {
          slow: (_job, ctx) =>
            new Promise((_, reject) => {
              ctx.signal.addEventListener('abort', () => {
                aborted = true;
                reject(ctx.signal.reason);
              });
            }),
        },
      });
      const { id } = await queue.add('slow', {}, { timeout: 30 });
      await worker.start();
      const job = await queue.waitUntilFinished(id, 5000);
      assert.equal(job.state, 'failed');
      assert.match(job.errors[0].message, /timed out after 30 ms/);
      assert.ok(aborted);
      await worker.close();
    });

    test('canceling an active job fires its signal and frees the slot, even if the handler ignores it', async () => {
      const started: string[] = [];
      const { queue, worker } = setup({
        concurrency: 1,
        handlers: {
          stuck: (job) => {
            started.push(job.id);
            return new Promise(() => {});
          },
          quick: () => 'ok',
        },
      });
      const stuck = await queue.add('stuck');
      const quick = await queue.add('quick');
      await worker.start();
      while (started.length === 0) await sleep(2);
      await queue.cancel(stuck.id, 'stopped by operator');
      assert.equal((await queue.waitUntilFinished(quick.id, 5000)).state, 'completed');
      const s = await queue.getJob(stuck.id);
      assert.equal(s!.state, 'canceled');
      assert.equal(s!.message, 'stopped by operator');
      await worker.close();
    });

    test('progress and log lines reach the store before the outcome', async () => {
      const { queue, worker } = setup({
        handlers: {
          report: async (_job, ctx) => {
            ctx.progress(50, 'half way');
            ctx.log('first line');
            ctx.log('to stderr', 'stderr');
            return 'done';
          },
        },
      });
      const progress: number[] = [];
      queue.on('progress', (e) => progress.push(e.progress!));
      const { id } = await queue.add('report');
      await worker.start();
      const job = await queue.waitUntilFinished(id, 5000);
      assert.equal(job.progress, 100);
      assert.equal(job.message, 'half way');
      assert.deepEqual((await queue.getLogs(id)).map((l) => [l.stream, l.line]), [['log', 'first line'], ['stderr', 'to stderr']]);
      assert.ok(progress.includes(50));
      await worker.close();
      await queue.close();
    });

    test('a worker claims only the job types it has handlers for; "*" catches the rest', async () => {
      const { queue, worker } = setup({ handlers: { known: () => 1 } });
      const { id } = await queue.add('unknown', {}, { attempts: 3 });
      const known = await queue.add('known');
      const w2 = new Worker(store, { queues: [queue.name], handlers: { '*': () => 1 }, maintainMs: 0 });
      started.push(w2);
      // The worker with named handlers runs its own type, then finds nothing else it may take.
      const drained = once(worker, 'drained');
      await worker.start();
      assert.equal((await queue.waitUntilFinished(known.id, 5000)).state, 'completed');
      await drained;
      assert.equal((await queue.getJob(id))!.state, 'queued', 'after an empty claim round, the unknown type is still waiting');
      await worker.close();
      await w2.start();
      assert.equal((await queue.waitUntilFinished(id, 5000)).state, 'completed');
      await w2.close();
    });

    test('burst mode: run() resolves once the queue is empty', async () => {
      let n = 0;
      const { queue, worker } = setup({ burst: true, handlers: { t: () => n++ } });
      await queue.addBulk(Array.from({ length: 25 }, () => ({ name: 't' })));
      await worker.run();
      assert.equal(n, 25);
      assert.equal((await queue.counts()).completed, 25);
    });

    test('close() lets running jobs finish within the shutdown timeout', async () => {
      let release!: (v: string) => void;
      const { queue, worker } = setup({ handlers: { t: () => new Promise<string>((r) => (release = r)) } });
      const { id } = await queue.add('t');
      const active = once(worker, 'active');
      await worker.start();
      await active;
      let closed = false;
      const closing = worker.close(5000).then(() => (closed = true));
      await new Promise((r) => setImmediate(r));
      assert.equal(closed, false, 'close waits for the running job');
      release('finished');
      await closing;
      const job = (await queue.getJob(id))!;
      assert.deepEqual([job.state, job.result], ['completed', 'finished']);
    });

    test('close() past its timeout aborts the job and hands it back, even on its last attempt', async () => {
      const { queue, worker } = setup({ handlers: { t: (_job, ctx) => new Promise((_, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason))) } });
      const { id } = await queue.add('t', {}, { attempts: 1 });
      const active = once(worker, 'active');
      await worker.start();
      await active;
      await worker.close(20);
      const job = await queue.getJob(id);
      assert.equal(job!.state, 'queued');
      assert.match(job!.errors[0].message, /shutting down/);
    });

    test('a lost lease is taken over by another worker after maintain; the first one is fenced out', async () => {
      const { queue } = setup({ handlers: { t: () => 1 } });
      const { id } = await queue.add('t', {}, { attempts: 2 });
      // Claim by hand with a short lease, then let it lapse as a dead worker would.
      const [claimed] = await store.claim({ queues: [queue.name], workerId: 'dead', limit: 1, leaseMs: 10 });
      assert.equal((await store.maintain(claimed.leaseUntil! - 1)).reclaimed, 0);
      assert.equal((await store.maintain(claimed.leaseUntil!)).reclaimed, 1);
      const w = new Worker(store, { queues: [queue.name], handlers: { t: () => 'second' }, maintainMs: 0 });
      started.push(w);
      await w.start();
      const job = await queue.waitUntilFinished(id, 5000);
      assert.equal(job.result, 'second');
      assert.equal(job.attempt, 2);
      assert.deepEqual(await store.finish([{ id, token: claimed.token, kind: 'completed', result: 'stale' }]), [false]);
      await w.close();
    });

    test('several queues: fair by default (a deep queue cannot starve the others); strict drains them in order', async () => {
      for (const order of ['fair', 'strict'] as const) {
        const deep = new Queue(store, freshQueue('deep'));
        const shallow = new Queue(store, freshQueue('shallow'));
        await deep.addBulk(Array.from({ length: 20 }, () => ({ name: 't' })));
        await shallow.addBulk(Array.from({ length: 5 }, () => ({ name: 't' })));
        const seen: string[] = [];
        const worker = new Worker(store, { queues: [deep.name, shallow.name], concurrency: 1, burst: true, maintainMs: 0, queueOrder: order, handlers: { t: (job) => void seen.push(job.queue === deep.name ? 'd' : 's') } });
        started.push(worker);
        await worker.run();
        assert.equal(seen.length, 25);
        if (order === 'fair') assert.equal(seen.slice(0, 10).join(''), 'dsdsdsdsds', 'claims alternate while both have work');
        else assert.equal(seen.join(''), 'd'.repeat(20) + 's'.repeat(5), 'strict: the first queue drains first');
      }
      assert.throws(() => new Worker(store, { queues: ['q'], handlers: { t: () => 1 }, queueOrder: 'random' as never }), /queueOrder/);
    });

    test('bad worker options are refused', () => {
      assert.throws(() => new Worker(store, { queues: [], handlers: { t: () => 1 } }), ValidationError);
      assert.throws(() => new Worker(store, { queues: ['q'], handlers: {} }), ValidationError);
      assert.throws(() => new Worker(store, { queues: ['q'], handlers: { t: 5 as never } }), ValidationError);
      assert.throws(() => new Worker(store, { queues: ['q'], handlers: { t: () => 1 }, concurrency: 0 }), ValidationError);
      // A misspelt option is refused with its name, not silently ignored.
      assert.throws(() => new Worker(store, { queues: ['q'], handlers: { t: () => 1 }, concurency: 5 } as never), /unknown Worker option "concurency"/);
      assert.throws(() => new Worker(store, { queues: ['q'], handlers: { t: () => 1 }, burst: 'yes' as never }), /burst must be true or false/);
      assert.throws(() => new Worker(store, { queues: ['q'], handlers: { t: () => 1 }, shutdownTimeoutMs: -1 }), /shutdownTimeoutMs/);
      assert.throws(() => new Worker(store, { queues: ['q'], handlers: { t: () => 1 }, name: '' }), /name must be/);
    });
  });
}
