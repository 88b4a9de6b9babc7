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

/** A clock that moves on 300 ms each time it is read: a stuck lock goes stale at once, without waiting. */
function ticking(): { now(): number } {
  let t = 0;
  return { now: () => (t += 300) };
}

test('a producer that died between publishing the tail and the count: the next producer takes its lock over and recounts', () => {
  const q = SharedQueue.create<string>({ name: name(), capacity: 3, maxItemBytes: 64, clock: ticking() });
  q.putNowait('a');
  q.putNowait('b');
  // What a thread killed inside put() between the tail and the count leaves: 'b' in the
  // ring but not counted, and the producers' lock still held by the dead thread.
  const h = new Int32Array(q.handle.buffer, 0, HEADER_WORDS);
  Atomics.sub(h, H.PUT_N, 1);
  Atomics.store(h, H.P_LOCK, 0x7ff0001);
  q.put('c', { timeout: 5000 });
  assert.equal(q.metrics().recoveredLocks, 1);
  assert.equal(q.size(), 3, 'the recount found the uncounted item');
  assert.throws(() => q.putNowait('d'), Full, 'the capacity still holds');
  assert.deepEqual(q.getMany(10, { block: false }), ['a', 'b', 'c']);
});

test('a consumer that died between moving the head and the count does not leave the queue looking full', () => {
  const q = SharedQueue.create<string>({ name: name(), capacity: 2, maxItemBytes: 64, clock: ticking() });
  const h = new Int32Array(q.handle.buffer, 0, HEADER_WORDS);
  // A thread killed inside get() after moving the head: the ring is empty, the count still
  // says full, the consumers' lock is held by the dead thread.
  q.putNowait('a');
  q.putNowait('b');
  q.getMany(2, { block: false });
  Atomics.sub(h, H.GOT_N, 2);
  Atomics.store(h, H.C_LOCK, 0x7ff0002);
  q.put('c', { timeout: 5000 });
  assert.equal(q.metrics().recoveredLocks, 1);
  assert.equal(q.size(), 1);
  // A producer killed after publishing 'd' but before its count: consumers read up to the
  // tail, so 'd' is delivered at once; the next producer's takeover puts the count right.
  q.putNowait('d');
  Atomics.sub(h, H.PUT_N, 1);
  Atomics.store(h, H.P_LOCK, 0x7ff0003);
  assert.deepEqual(q.getMany(5, { block: false }), ['c', 'd']);
  q.put('e', { timeout: 5000 });
  assert.equal(q.metrics().recoveredLocks, 2);
  assert.equal(q.size(), 1);
  assert.equal(q.getNowait(), 'e');
  assert.equal(q.size(), 0);
});

test('a consumer that died holding its lock: the next get takes it over and gets the item', () => {
  const q = SharedQueue.create<string>({ name: name(), capacity: 4, maxItemBytes: 64, clock: ticking() });
  q.putNowait('a');
  Atomics.store(new Int32Array(q.handle.buffer, 0, HEADER_WORDS), H.C_LOCK, 0x7ff0004);
  assert.equal(q.get({ timeout: 5000 }), 'a');
  assert.equal(q.metrics().recoveredLocks, 1);
});

test('a held lock is taken over once its clock says it has been stuck for a second', () => {
  let reads = 0;
  const q = SharedQueue.create<string>({ name: name(), capacity: 4, maxItemBytes: 64, clock: { now: () => ++reads * 100 } });
  q.putNowait('a');
  Atomics.store(new Int32Array(q.handle.buffer, 0, HEADER_WORDS), H.C_LOCK, 0x7ff0005);
  assert.equal(q.get({ timeout: 5000 }), 'a');
  assert.equal(q.metrics().recoveredLocks, 1);
  // The first reading starts the count; more than 1,000 ms later on this clock is the 12th.
  assert.equal(reads, 12);
  // A handle connected with its own clock uses it.
  const other = SharedQueue.connect<string>(q.handle, '', { clock: ticking() });
  other.putNowait('b');
  Atomics.store(new Int32Array(q.handle.buffer, 0, HEADER_WORDS), H.C_LOCK, 0x7ff0006);
  assert.equal(other.get({ timeout: 5000 }), 'b');
  assert.equal(reads, 12, 'not the creating handle\'s clock');
  assert.equal(q.metrics().recoveredLocks, 2);
  // A clock without now() is refused, and nothing is registered.
  const bad = name();
  assert.throws(() => SharedQueue.create({ name: bad, clock: {} as { now(): number } }), (e: unknown) => e instanceof SharedQueueError && e.code === 'INVALID');
  assert.throws(() => SharedQueue.connect(bad), (e: unknown) => e instanceof SharedQueueError && e.code === 'NOT_FOUND');
  assert.throws(() => SharedQueue.connect(q.handle, '', { clock: null as unknown as { now(): number } }), (e: unknown) => e instanceof SharedQueueError && e.code === 'INVALID');
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

test('consumeRaw hands over raw items as (bytes, offset, length), stops before other items, and refuses bad input', () => {
  const q = SharedQueue.create<unknown>({ name: name(), capacity: 8, maxItemBytes: 64 });
  q.putBatch([new Uint8Array([1, 2, 3]), new Uint8Array([4]), { not: 'raw' }, new Uint8Array([5, 6])]);
  const seen: number[][] = [];
  const keep = (bytes: Uint8Array, offset: number, length: number) => seen.push([...bytes.subarray(offset, offset + length)]);
  assert.equal(q.consumeRaw(10, keep), 2);
  assert.deepEqual(seen, [[1, 2, 3], [4]]);
  // The next item is not raw: nothing is taken, get() still finds it.
  assert.throws(() => q.consumeRaw(10, keep), (err: unknown) => err instanceof SharedQueueError && err.code === 'NOT_RAW');
  assert.equal(q.size(), 2);
  assert.deepEqual(q.getNowait(), { not: 'raw' });
  assert.equal(q.consumeRaw(1, keep), 1);
  assert.deepEqual(seen[2], [5, 6]);
  assert.throws(() => q.consumeRaw(10, keep, { block: false }), Empty);
  assert.throws(() => q.consumeRaw(0, keep), (err: unknown) => err instanceof SharedQueueError && err.code === 'INVALID');
  assert.throws(() => q.consumeRaw(1, 'nope' as never), (err: unknown) => err instanceof SharedQueueError && /needs a function/.test((err as Error).message));
  assert.throws(() => q.putBatch([new Uint8Array(10), new Uint8Array(65)]), ItemTooLarge);
  assert.equal(q.size(), 0, 'a batch with one oversized raw item put nothing');
});

test('a consumeRaw handler that throws still sees every item taken with it, then the error surfaces', () => {
  const q = SharedQueue.create<Uint8Array>({ name: name(), capacity: 8, maxItemBytes: 16 });
  q.putBatch([1, 2, 3, 4].map((i) => new Uint8Array([i])));
  const seen: number[] = [];
  assert.throws(
    () =>
      q.consumeRaw(10, (bytes, offset) => {
        seen.push(bytes[offset]);
        if (bytes[offset] === 2) throw new Error('handler failed on 2');
      }),
    /handler failed on 2/,
  );
  assert.deepEqual(seen, [1, 2, 3, 4], 'the items after the throw were handed over, not dropped');
  assert.equal(q.size(), 0);
});

test('records crossing the end of the ring come out whole, in batches and one by one', async () => {
  // A small ring: batches of mixed sizes wrap many times, through every put and get path.
  const q = SharedQueue.create<unknown>({ name: name(), capacity: 5, maxItemBytes: 40 });
  const rawItem = (i: number) => new Uint8Array((i * 7) % 37 + 1).fill(i & 0xff);
  const objItem = (i: number) => ({ i, s: 'y'.repeat(i % 20) });
  let next = 0;
  let expect = 0;
  const check = (item: unknown) => {
    const i = expect++;
    assert.deepEqual(item, i % 3 === 2 ? objItem(i) : rawItem(i), `item ${i}`);
  };
  for (let round = 0; round < 400; round++) {
    const batch = [];
    for (let k = 0; k < 1 + (round % 3) && q.size() + batch.length < 5; k++, next++) batch.push(next % 3 === 2 ? objItem(next) : rawItem(next));
    if (round % 5 === 4) for (const item of batch) await q.putAsync(item);
    else if (round % 5 === 3) await q.putBatchAsync(batch);
    else q.putBatch(batch);
    if (q.size() === 0) continue;
    if (round % 4 === 0) check(q.getNowait());
    else if (round % 4 === 1) {
      const n = expect % 3 === 2 ? 0 : q.consumeRaw(2, (bytes, offset, length) => check(bytes.slice(offset, offset + length)));
      if (n === 0) check(q.getNowait());
    } else for (const item of q.getMany(3)) check(item);
  }
  if (q.size() > 0) for (const item of q.getMany(10, { block: false })) check(item);
  assert.equal(expect, next);
});

test('one producer thread and one consumer thread move 200,000 raw items exactly once and in order', async () => {
  const count = 200_000;
  const q = SharedQueue.create<Uint8Array>({ name: name(), capacity: 1024, maxItemBytes: 128 });
  const producer = thread({ handle: q.handle, role: 'produce-raw', count, batch: 100 });
  let got = 0;
  while (got < count) {
    await q.consumeRawAsync(256, (bytes, offset, length) => {
      const i = bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) | (bytes[offset + 3] << 24);
      assert.equal(i, got, 'in order, none lost or repeated');
      assert.equal(length, (i % 97) + 4);
      if (length > 4) assert.equal(bytes[offset + length - 1], i & 0xff);
      got++;
    }, { timeout: 10_000 });
  }
  await once(producer, 'message');
  assert.equal(q.size(), 0);
  await producer.terminate();
});

test("metrics also answer to the shared-memory queue's names", () => {
  const q = SharedQueue.create<number>({ name: name(), capacity: 8, maxItemBytes: 128 });
  q.putBatch([1, 2]);
  const m = q.metrics();
  assert.deepEqual([m.queue_size, m.queue_capacity, m.queue_utilization_percent, m.queue_item_size_bytes], [2, 8, 25, 128]);
  assert.equal(m.size, m.queue_size);
});
