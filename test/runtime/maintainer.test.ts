/**
 * The elected Maintainer: one of many does the upkeep, the next takes over when it stops
 * or falls silent, and upkeep runs on the store's clock (no sleeps here).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestClock } from '../../src/core/clock.ts';
import { buildNewJob } from '../../src/core/options.ts';
import { Maintainer } from '../../src/maintainer.ts';
import { MemoryStore } from '../../src/stores/memory/memory-store.ts';

test('one maintainer of several leads; a clean stop hands over at once; a silent leader is replaced after its lease', async () => {
  const clock = new TestClock();
  const store = new MemoryStore({ clock });
  const a = new Maintainer(store, { intervalMs: 1000 });
  const b = new Maintainer(store, { intervalMs: 1000 });
  assert.ok(await a.runOnce(), 'a leads and reports');
  assert.equal(await b.runOnce(), null, 'b does not');
  assert.deepEqual([a.isLeader, b.isLeader], [true, false]);
  await a.stop();
  assert.ok(await b.runOnce(), 'a resigned: b leads at once');
  // b falls silent (no more rounds): a third takes over only once b's lease (3 intervals) ran out.
  const c = new Maintainer(store, { intervalMs: 1000 });
  clock.advance(2999);
  assert.equal(await c.runOnce(), null);
  clock.advance(1);
  assert.ok(await c.runOnce());
});

test('started, it reclaims an expired lease on its own, driven by the clock', async () => {
  const clock = new TestClock();
  const store = new MemoryStore({ clock });
  const [r] = await store.enqueue([buildNewJob('q', 't', {}, {}, {}, undefined, clock.now())]);
  await store.claim({ queues: ['q'], workerId: 'dead', limit: 1, leaseMs: 500 });
  const reports: number[] = [];
  const m = new Maintainer(store, { intervalMs: 200, onReport: (rep) => reports.push(rep.reclaimed) });
  m.start();
  await new Promise((r) => setImmediate(r));
  clock.advance(400);
  await new Promise((r) => setImmediate(r));
  assert.equal((await store.get(r.id))!.state, 'active', 'lease not over yet');
  clock.advance(200);
  await m.runOnce();
  assert.equal((await store.get(r.id))!.state, 'queued');
  assert.ok(reports.includes(1), `a round reclaimed it: ${reports}`);
  await m.stop();
  assert.equal(clock.timers, 0, 'stop leaves no timer behind');
});

test('bad options are refused', () => {
  const store = new MemoryStore();
  assert.throws(() => new Maintainer(store, { intervalMs: 0 }), /intervalMs/);
  assert.throws(() => new Maintainer(store, { intervalMs: 1000, leaseMs: 1000 }), /leaseMs/);
});
