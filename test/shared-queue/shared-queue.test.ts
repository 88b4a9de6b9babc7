import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Empty, Full, ItemTooLarge, SharedQueue, SharedQueueError } from '../../src/shared-queue/index.ts';
import { H, HEADER_WORDS } from '../../src/shared-queue/layout.ts';

const THREAD = new URL('../fixtures/shared-queue/thread.ts', import.meta.url);
let n = 0;
const name = () => `t${process.pid}-${++n}`;

function thread(workerData: Record<string, unknown>): Worker {
  return new Worker(THREAD, { workerData });
}

test('put/get in order; Full and Empty without waiting; raw bytes pass as bytes', () => {
  const q = SharedQueue.create<unknown>({ name: name(), capacity: 3, maxItemBytes: 64 });
  q.putNowait({ a: 1 });
  q.putNowait('two');
  q.putNowait(new Uint8Array([1, 2, 3]));
  assert.equal(q.full(), true);
  assert.throws(() => q.putNowait(4), Full);
  assert.deepEqual(q.getNowait(), { a: 1 });
  assert.equal(q.getNowait(), 'two');
  assert.deepEqual(q.getNowait(), new Uint8Array([1, 2, 3]));
  assert.equal(q.empty(), true);
  assert.throws(() => q.getNowait(), Empty);
});

test('an oversized or unencodable item, or a batch that cannot fit, is refused whole', () => {
  const q = SharedQueue.create<unknown>({ name: name(), capacity: 4, maxItemBytes: 32 });
  q.putNowait('keep');
  assert.throws(() => q.putNowait('x'.repeat(100)), ItemTooLarge);
  assert.throws(() => q.putBatch(['ok', 'x'.repeat(100)]), ItemTooLarge);
  assert.throws(() => q.putBatch([1, 2, 3, 4, 5]), /can never fit/);
  assert.throws(() => q.putBatch([1, 2, 3, 4], { block: false }), Full);
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assert.throws(() => q.putNowait(circular), SharedQueueError);
  assert.equal(q.size(), 1);
  assert.deepEqual(q.getMany(10), ['keep']);
  assert.throws(() => SharedQueue.create({ name: 'x', capacity: 0 }), /capacity must be an integer/);
  assert.throws(() => SharedQueue.connect('nope', 'run'), /no SharedQueue "nope" in run "run"/);
});

test('async waits never block the event loop; sync waits block this thread until the timeout', async () => {
  const q = SharedQueue.create<number>({ name: name(), capacity: 2 });
  const s0 = Date.now();
  assert.throws(() => q.get({ timeout: 15 }), Empty);
  assert.ok(Date.now() - s0 >= 14);
  const t0 = Date.now();
  await assert.rejects(q.getAsync({ timeout: 40 }), Empty);
  assert.ok(Date.now() - t0 >= 39);
  setTimeout(() => q.putNowait(7), 20);
  assert.equal(await q.getAsync({ timeout: 2000 }), 7);
  q.putBatch([1, 2]);
  const pending = q.putAsync(3, { timeout: 2000 });
  assert.deepEqual(q.getMany(1), [1]);
  await pending;
  assert.deepEqual(q.getMany(5), [2, 3]);
});

test('names are namespaced by runId; a handle reconnects in another thread', async () => {
  const a = SharedQueue.create<string>({ name: 'jobs', runId: `run-a-${process.pid}` });
  const b = SharedQueue.create<string>({ name: 'jobs', runId: `run-b-${process.pid}` });
  a.putNowait('for a');
  assert.equal(SharedQueue.connect<string>('jobs', `run-b-${process.pid}`).size(), 0);
  assert.equal(SharedQueue.connect<string>('jobs', `run-a-${process.pid}`).getNowait(), 'for a');
  const w = thread({ handle: b.handle, role: 'produce', p: 1, count: 10, batch: 5 });
  await once(w, 'message');
  assert.equal(b.size(), 10);
  assert.deepEqual(b.getMany(3).map((x) => (x as unknown as { i: number }).i), [0, 1, 2]);
  await w.terminate();
});

test('a blocking get times out within a few ms of its deadline', async () => {
  const q = SharedQueue.create({ name: name() });
  for (const timeout of [20, 100]) {
    const w = thread({ handle: q.handle, role: 'blocking-get', timeout });
    const [msg] = (await once(w, "message")) as [{ late: number; error: string }];
    assert.equal(msg.error, 'Empty');
    assert.ok(msg.late >= -1 && msg.late < 50, `late by ${msg.late} ms`);
    await w.terminate();
  }
});

test('a thread terminated mid-operation does not wedge the queue', async () => {
  const q = SharedQueue.create<unknown>({ name: name(), capacity: 64, maxItemBytes: 256 });
  for (let round = 0; round < 5; round++) {
    const w = thread({ handle: q.handle, role: 'spin-put' });
    await once(w, 'message');
    await new Promise((r) => setTimeout(r, 20 + round * 7));
    await w.terminate();
  }
  // Whatever state the dead threads left, this thread can still use the queue.
  const deadline = Date.now() + 5000;
  // Not `if (!q.empty())`: the count a dead thread left is repaired only by the next locked step.
  try {
    q.getMany(1000, { block: false });
  } catch (e) {
    if (!(e instanceof Empty)) throw e;
  }
  await q.putAsync('after', { timeout: 5000 });
  const rest = await q.getManyAsync(1000, { timeout: 5000 });
  assert.equal(rest[rest.length - 1], 'after');
  assert.ok(Date.now() < deadline);
});

test('taking the lock over from a dead thread repairs the count it left behind', () => {
  const q = SharedQueue.create<string>({ name: name(), capacity: 8, maxItemBytes: 64 });
  q.putNowait('a');
  q.putNowait('b');
  // What a thread killed inside put() between publishing the tail and the count leaves:
  // 'b' in the ring but not counted, and the lock still held by the dead thread.
  const h = new Int32Array(q.handle.buffer, 0, HEADER_WORDS);
  Atomics.sub(h, H.COUNT, 1);
  Atomics.store(h, H.LOCK, 0x7ff0001);
  q.put('c', { timeout: 5000 });
  assert.equal(q.metrics().recoveredLocks, 1);
  assert.deepEqual(q.getMany(10, { block: false }), ['a', 'b', 'c']);
});

test('a count left stale by a dead lock holder does not fool the lock-free checks', () => {
  const q = SharedQueue.create<string>({ name: name(), capacity: 2, maxItemBytes: 64 });
  const h = new Int32Array(q.handle.buffer, 0, HEADER_WORDS);
  // A thread killed inside get() between moving the head and the count: the ring is empty,
  // the count still says full, the lock is held by the dead thread.
  q.putNowait('a');
  q.putNowait('b');
  q.getMany(2, { block: false });
  Atomics.store(h, H.COUNT, 2);
  Atomics.store(h, H.LOCK, 0x7ff0002);
  q.put('c', { timeout: 5000 });
  assert.equal(q.metrics().recoveredLocks, 1);
  // A thread killed inside put() before the count: 'c' in the ring, the count says empty.
  Atomics.store(h, H.COUNT, 0);
  Atomics.store(h, H.LOCK, 0x7ff0003);
  assert.deepEqual(q.get({ timeout: 5000 }), 'c');
  assert.equal(q.metrics().recoveredLocks, 2);
});

test('stress: 4 producers and 4 consumers move 1,000,000 items exactly once, in order per producer', async () => {
  const producers = 4;
  const perProducer = 250_000;
  const q = SharedQueue.create<unknown>({ name: name(), capacity: 4096, maxItemBytes: 256 });
  const consumers = [0, 1, 2, 3].map(() => thread({ handle: q.handle, role: 'consume' }));
  const results = consumers.map((w) => once(w, 'message').then(([m]) => m as Int32Array));
  const ps = Array.from({ length: producers }, (_, p) => thread({ handle: q.handle, role: 'produce', p, count: perProducer, batch: 64 }));
  await Promise.all(ps.map((w) => once(w, 'message')));
  for (let i = 0; i < consumers.length; i++) await q.putAsync('STOP');
  const got = await Promise.all(results);
  const seen = Array.from({ length: producers }, () => new Uint8Array(perProducer));
  let total = 0;
  for (const pairs of got) {
    const last = new Array(producers).fill(-1);
    for (let k = 0; k < pairs.length; k += 2) {
      const [p, i] = [pairs[k], pairs[k + 1]];
      assert.ok(i > last[p], `producer ${p}'s items arrived out of order at one consumer`);
      last[p] = i;
      assert.equal(seen[p][i], 0, `item ${p}/${i} received twice`);
      seen[p][i] = 1;
      total++;
    }
  }
  assert.equal(total, producers * perProducer);
  await Promise.all([...ps, ...consumers].map((w) => w.terminate()));
});

test('create refuses a name+run that exists in this thread; unlink frees it; connect is how to share it', () => {
  const nm = name();
  const q = SharedQueue.create<number>({ name: nm, runId: 'r1' });
  q.putNowait(1);
  assert.throws(() => SharedQueue.create({ name: nm, runId: 'r1' }), (err: unknown) => err instanceof SharedQueueError && /exists in this thread/.test((err as Error).message));
  const other = SharedQueue.create<number>({ name: nm, runId: 'r2' });
  assert.equal(other.size(), 0, 'another run id is another queue');
  assert.equal(SharedQueue.connect<number>(nm, 'r1').getNowait(), 1, 'the first queue kept its item');
  q.unlink();
  assert.equal(SharedQueue.create({ name: nm, runId: 'r1' }).size(), 0);
});

test('items come out as they went in, one by one and in batches, whether they travel as JSON or as msgpack', () => {
  const items: unknown[] = [
    // Plain data (JSON carries it exactly).
    { a: 1, b: 'é😀', c: [true, null, 1.5, -7], d: {} }, 'text', 42, null, true, [], 'lone \ud800 surrogate',
    // Not plain data (msgpack keeps what JSON would change or drop).
    NaN, Infinity, undefined, { u: undefined }, [1, undefined], new Date(5), { when: new Date(5) }, new Set([1]), 10n, { deep: [{ x: NaN }] },
  ];
  const q = SharedQueue.create<unknown>({ name: name(), capacity: 64, maxItemBytes: 256 });
  for (const item of items) q.putNowait(item);
  q.putBatch(items);
  const back = [...items.map(() => q.getNowait()), ...q.getMany(64)];
  for (const [i, item] of [...items, ...items].entries()) assert.deepEqual(back[i], item, `item ${i}`);
});

test('the size limit counts encoded bytes: a short text of multi-byte characters can be too large', () => {
  const q = SharedQueue.create<unknown>({ name: name(), capacity: 4, maxItemBytes: 32 });
  // 22 characters of JSON, 42 bytes of UTF-8.
  assert.throws(() => q.putBatch(['ok', 'é'.repeat(20)]), (err: unknown) => err instanceof ItemTooLarge && /42/.test((err as Error).message));
  assert.throws(() => q.putNowait('é'.repeat(20)), ItemTooLarge);
  q.putBatch(['é'.repeat(14)]);
  assert.equal(q.getNowait(), 'é'.repeat(14));
  assert.equal(q.size(), 0);
});

test('items that would not arrive as sent (functions, symbols) are refused with SharedQueueError', () => {
  const q = SharedQueue.create<unknown>({ name: name(), capacity: 8 });
  const bad: [unknown, RegExp][] = [
    [() => 1, /item is a function/],
    [{ a: 1, cb: () => 1 }, /item\.cb is a function/],
    [[1, [2, Symbol('x')]], /item\[1\]\[1\] is a symbol/],
    [{ [Symbol('k')]: 1 }, /symbol keys/],
    [new Map([['k', () => 1]]), /function/],
  ];
  for (const [item, why] of bad) {
    assert.throws(() => q.putNowait(item), (err: unknown) => err instanceof SharedQueueError && why.test((err as Error).message), String(why));
  }
  assert.equal(q.size(), 0, 'nothing was added');
  const fine = { when: new Date(0), tags: new Set(['a']), n: 1n, nested: { list: [1, 'two', null] } };
  q.putNowait(fine);
  assert.deepEqual(q.getNowait(), fine);
});

test("metrics also answer to the shared-memory queue's names", () => {
  const q = SharedQueue.create<number>({ name: name(), capacity: 8, maxItemBytes: 128 });
  q.putBatch([1, 2]);
  const m = q.metrics();
  assert.deepEqual([m.queue_size, m.queue_capacity, m.queue_utilization_percent, m.queue_item_size_bytes], [2, 8, 25, 128]);
  assert.equal(m.size, m.queue_size);
});
