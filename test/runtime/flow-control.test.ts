/**
 * Flow control as a Worker lives it, on every backend and a test clock: a job held back by
 * a rate window is neither run nor failed, the worker does not spin while it waits, and it
 * takes the job as soon as the window ends (not at its idle timeout).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { TestClock } from '../../src/core/clock.ts';
import type { Job } from '../../src/core/job.ts';
import { Queue } from '../../src/queue.ts';
import type { Store } from '../../src/stores/store.ts';
import { Worker } from '../../src/worker/worker.ts';
import { freshQueue } from '../contract/contract.ts';
import { BACKENDS } from '../helpers/stores.ts';

for (const backend of BACKENDS) {
  describe(`flow control on ${backend.name}`, () => {
    const clock = new TestClock(Date.now());
    let store: Store;
    let claims = 0;
    before(async () => {
      store = await backend.open(clock);
      // Counts the worker's claims: a worker that spins while held back would claim on and on.
      const claim = store.claim.bind(store);
      store.claim = (req) => {
        claims++;
        return claim(req);
      };
    });
    after(() => store.close());

    test('a group over its rate limit waits for its window without spinning the worker; other groups go on', { timeout: 10_000 }, async () => {
      const queue = new Queue(store, freshQueue('grl'));
      await queue.configure({ groupRateLimit: { max: 1, durationMs: 1000 } });
      const done: string[] = [];
      const worker = new Worker(store, {
        queues: [queue.name],
        concurrency: 5,
        maintainMs: 0,
        // Far beyond the window: only the window's end can explain a prompt second run.
        idleMs: 3_600_000,
        handlers: { t: (job: Job) => void done.push(`${(job.data as { g: string }).g}${(job.data as { i: number }).i}`) },
      });
      const completions = (n: number) =>
        new Promise<void>((resolve) => {
          const check = () => {
            if (done.length >= n) {
              worker.off('completed', check);
              resolve();
            }
          };
          worker.on('completed', check);
          check();
        });
      await queue.addBulk([0, 1].map((i) => ({ name: 't', data: { g: 'a', i }, opts: { group: 'a' } })));
      await queue.add('t', { g: 'b', i: 0 }, { group: 'b' });
      // The worker runs out of work it may take (a1 is held back), says so, and goes to sleep.
      const drained = once(worker, 'drained');
      await worker.start();
      try {
        await completions(2);
        await drained;
        assert.deepEqual([...done].sort(), ['a0', 'b0']);
        // The worker is now held back: some turns of the event loop and round trips later it has
        // not kept claiming.
        const before = claims;
        for (let k = 0; k < 20; k++) await store.counts([queue.name]);
        assert.ok(claims - before <= 2, `claimed ${claims - before} times while held back`);
        const held = await queue.getJobs({ state: 'queued' });
        assert.deepEqual(held.jobs.map((j) => [j.attempt, j.errors.length]), [[0, 0]], 'held back: not started, not failed');
        clock.advance(1000);
        await completions(3);
        assert.equal(done[2], 'a1');
      } finally {
        await worker.close();
      }
    });
  });
}
