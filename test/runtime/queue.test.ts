import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { NotFoundError, StateError, TimeoutError, ValidationError } from '../../src/core/errors.ts';
import { Queue } from '../../src/queue.ts';
import { TestClock } from '../../src/core/clock.ts';
import type { JobEvent, Store } from '../../src/stores/store.ts';
import { freshQueue } from '../contract/contract.ts';
import { BACKENDS } from '../helpers/stores.ts';

for (const backend of BACKENDS) {
  describe(`Queue on ${backend.name}`, () => {
    let store: Store;
    before(async () => {
      store = await backend.open();
    });
    after(() => store.close());

    test('add and addBulk validate and store jobs; defaults apply', async () => {
      const queue = new Queue(store, freshQueue(), { defaultJobOptions: { attempts: 3 } });
      const one = await queue.add('email', { to: 'x' }, { priority: 2 });
      const many = await queue.addBulk([{ name: 'a', data: 1 }, { name: 'b', data: 2, opts: { delay: 60_000 } }]);
      assert.equal(one.state, 'queued');
      assert.deepEqual(many.map((r) => r.state), ['queued', 'scheduled']);
      const job = await queue.getJob(one.id);
      assert.equal(job!.maxAttempts, 3);
      assert.equal(job!.priority, 2);
      assert.deepEqual(await queue.counts(), { ...(await queue.counts()), queued: 2, scheduled: 1 });
    });

    test("latency: the oldest waiting job's age and the wait percentiles of completed jobs, on the store's clock", async () => {
      const clock = new TestClock();
      const s = await backend.open(clock);
      try {
        const queue = new Queue(s, freshQueue());
        assert.deepEqual(await queue.latency(), { oldestWaitingMs: null, waitP50Ms: null, waitP95Ms: null, sampled: 0 });
        await queue.addBulk(Array.from({ length: 20 }, (_, i) => ({ name: 't', data: i })));
        // The i-th job (first in, first out) starts 100·(i+1) ms after it was added.
        for (let i = 0; i < 20; i++) {
          clock.advance(100);
          const [j] = await s.claim({ queues: [queue.name], workerId: 'w', limit: 1, leaseMs: 60_000 });
          await s.finish([{ id: j.id, token: j.token, kind: 'completed', result: null }]);
        }
        await queue.add('t', 'waiting');
        clock.advance(250);
        // A delayed job that became due: stores keep no run-at time once it is queued, so its
        // wait counts from when it was added (the documented limit of these figures).
        await queue.add('t', 'delayed', { delay: 1_000 });
        clock.advance(1_100);
        await s.maintain();
        assert.deepEqual(await queue.latency(), { oldestWaitingMs: 1_350, waitP50Ms: 1_000, waitP95Ms: 1_900, sampled: 20 });
        // The newest five created: waits 1,600 to 2,000.
        assert.deepEqual(await queue.latency(5), { oldestWaitingMs: 1_350, waitP50Ms: 1_800, waitP95Ms: 2_000, sampled: 5 });
        const [delayed] = await s.claim({ queues: [queue.name], workerId: 'w', limit: 2, leaseMs: 60_000 }).then((js) => js.filter((j) => j.data === 'delayed'));
        await s.finish([{ id: delayed.id, token: delayed.token, kind: 'completed', result: null }]);
        assert.equal((await queue.latency(1)).waitP50Ms, 1_100);
        await assert.rejects(queue.latency(0), ValidationError);
      } finally {
        await s.close();
      }
    });

    test('retryAll retries every failed (or canceled) job of the queue, across pages', async () => {
      const queue = new Queue(store, freshQueue());
      const added = await queue.addBulk(Array.from({ length: 1203 }, (_, i) => ({ name: 't', data: i })));
      const jobs = await store.claim({ queues: [queue.name], workerId: 'w', limit: 1200, leaseMs: 60_000 });
      await store.finish(jobs.map((j) => ({ id: j.id, token: j.token, kind: 'failed' as const, error: { message: 'x' }, next: { state: 'failed' as const } })));
      const canceled = await store.cancel(added.slice(1200).map((r) => r.id));
      assert.equal(canceled.length, 3);
      assert.equal(await queue.retryAll(), 1200);
      assert.equal(await queue.retryAll(), 0, 'nothing failed is left');
      assert.equal(await queue.retryAll('canceled'), 3);
      const counts = await queue.counts();
      assert.deepEqual([counts.queued, counts.failed, counts.canceled], [1203, 0, 0]);
      const again = await queue.getJob(jobs[0].id);
      assert.equal(again!.attempt, 0, 'a fresh attempt count');
    });

    test('bad input is refused with a ValidationError and changes nothing', async () => {
      const queue = new Queue(store, freshQueue(), { maxDataBytes: 100 });
      await assert.rejects(queue.add('', {}), ValidationError);
      await assert.rejects(queue.add('ok', 'x'.repeat(200)), /bytes of JSON; the limit is 100/);
      await assert.rejects(queue.add('ok', {}, { priority: 1.5 }), /priority must be an integer/);
      await assert.rejects(queue.add('ok', {}, { attempts: 0 }), ValidationError);
      await assert.rejects(queue.add('ok', {}, { nope: 1 } as never), /unknown job option "nope"/);
      await assert.rejects(queue.add('ok', {}, { delay: 5, runAt: Date.now() }), /either delay or runAt/);
      await assert.rejects(queue.add('ok', {}, { backoff: { type: 'weird' } as never }), /backoff.type/);
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      await assert.rejects(queue.add('ok', circular), /JSON-serializable/);
      await assert.rejects(queue.addBulk([{ name: 'ok' }, { name: 'bad name!' }]), ValidationError);
      // An unpaired surrogate has no UTF-8 form: no store could keep it as given.
      await assert.rejects(queue.add('ok', {}, { group: 'tenant-\ud800' }), /group must be .*unpaired surrogates/);
      await assert.rejects(queue.add('ok', {}, { jobId: '\udc00x' }), /jobId must be .*unpaired surrogates/);
      await assert.rejects(queue.configure({ maxSize: -1 }), /maxSize must be a positive integer/);
      await assert.rejects(queue.configure({ color: 'red' } as never), /unknown queue setting/);
      await assert.rejects(queue.getJobs({ state: 'sleeping' }), /unknown state/);
      assert.throws(() => new Queue(store, 'bad queue name'), ValidationError);
      const counts = await queue.counts();
      assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), 0);
    });

    test('unknown ids get NotFoundError; wrong states get StateError that says why', async () => {
      const queue = new Queue(store, freshQueue());
      await assert.rejects(queue.cancel('missing'), NotFoundError);
      await assert.rejects(queue.retry('missing'), NotFoundError);
      await assert.rejects(queue.remove('missing'), NotFoundError);
      await assert.rejects(queue.getLogs('missing'), NotFoundError);
      const { id } = await queue.add('t', {});
      await assert.rejects(queue.retry(id), (err: Error) => err instanceof StateError && /it is queued/.test(err.message));
      const other = new Queue(store, freshQueue());
      assert.equal(await other.getJob(id), null, 'a job is only found through its own queue');
    });

    test('start later, cancel, retry, promote, remove, clean', async () => {
      const queue = new Queue(store, freshQueue());
      const { id } = await queue.add('t', {}, { start: false });
      assert.equal((await queue.getJob(id))!.state, 'pending');
      assert.equal((await queue.start(id)).state, 'queued');
      assert.equal((await queue.cancel(id, 'not needed')).state, 'canceled');
      assert.equal((await queue.getJob(id))!.message, 'not needed');
      assert.equal((await queue.retry(id)).state, 'queued');
      const later = await queue.add('t', {}, { delay: 60_000 });
      assert.equal((await queue.promote(later.id)).state, 'queued');
      await queue.remove(later.id);
      assert.equal(await queue.getJob(later.id), null);
      await queue.cancel(id);
      assert.equal(await queue.clean({ states: ['canceled'] }), 1);
      await assert.rejects(queue.clean({ states: ['active'] }), ValidationError);
    });

    test('getJobs accepts other tools\' state names and pages with a cursor', async () => {
      const queue = new Queue(store, freshQueue());
      await queue.addBulk(Array.from({ length: 5 }, (_, i) => ({ name: 'n', data: { i } })));
      const page1 = await queue.getJobs({ state: 'waiting', limit: 3, order: 'asc' });
      assert.deepEqual(page1.jobs.map((j) => (j.data as { i: number }).i), [0, 1, 2]);
      const page2 = await queue.getJobs({ state: ['waiting'], limit: 3, order: 'asc', cursor: page1.next });
      assert.deepEqual(page2.jobs.map((j) => (j.data as { i: number }).i), [3, 4]);
      assert.equal(page2.next, null);
    });

    test('pause and resume; settings round-trip', async () => {
      const queue = new Queue(store, freshQueue());
      await queue.pause();
      assert.equal(await queue.isPaused(), true);
      await queue.resume();
      assert.equal(await queue.isPaused(), false);
      const s = await queue.configure({ maxSize: 10, overflow: 'evict-oldest', typeLimits: { big: 2 } });
      assert.equal(s.maxSize, 10);
      assert.deepEqual((await queue.settings()).typeLimits, { big: 2 });
    });

    test('events reach listeners of this queue only; waitUntilFinished resolves or times out', async () => {
      const queue = new Queue(store, freshQueue());
      const other = new Queue(store, freshQueue());
      const seen: JobEvent[] = [];
      queue.on('added', (e) => seen.push(e));
      const foreign: JobEvent[] = [];
      other.on('added', (e) => foreign.push(e));
      const heard = once(other, 'added');
      const { id } = await queue.add('t', {});
      const { id: otherId } = await other.add('t', {});
      // Events of a networked store arrive a moment after the write: wait for the other
      // queue's own event, which comes after this queue's.
      await heard;
      assert.deepEqual(foreign.map((e) => e.jobId), [otherId], 'each queue hears only its own jobs');
      assert.equal(seen.length, 1);
      assert.equal(seen[0].jobId, id);
      await assert.rejects(queue.waitUntilFinished(id, 50), TimeoutError);
      const waiting = queue.waitUntilFinished(id, 5000);
      const [claimed] = await store.claim({ queues: [queue.name], workerId: 'w', limit: 1, leaseMs: 10_000 });
      await store.finish([{ id, token: claimed.token, kind: 'completed', result: 42 }]);
      const done = await waiting;
      assert.equal(done.state, 'completed');
      assert.equal(done.result, 42);
      await queue.close();
      await other.close();
    });
  });
}
