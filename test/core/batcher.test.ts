/** Group commit: what arrives while a flush is in flight goes out together in the next one. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Batcher } from '../../src/core/batcher.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('items of one tick share a flush; items added during a flush share the next; each gets its own answer', async () => {
  const flushes: number[][] = [];
  let gate = deferred();
  const b = new Batcher<number, number>(async (items) => {
    flushes.push(items);
    await gate.promise;
    return items.map((i) => i * 10);
  });
  const first = [b.add(1), b.add(2), b.add(3)];
  await new Promise((r) => setImmediate(r));
  const second = [b.add(4), b.add(5)];
  assert.deepEqual(flushes, [[1, 2, 3]], 'the second group waits for the first flush');
  assert.equal(b.size, 2);
  const g1 = gate;
  gate = deferred();
  g1.resolve();
  assert.deepEqual(await Promise.all(first), [10, 20, 30]);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(flushes, [[1, 2, 3], [4, 5]]);
  gate.resolve();
  assert.deepEqual(await Promise.all(second), [40, 50]);
});

test('maxBatch splits a large group; drained() waits for everything', async () => {
  const sizes: number[] = [];
  const b = new Batcher<number, number>(async (items) => {
    sizes.push(items.length);
    return items;
  }, 4);
  const all = Array.from({ length: 10 }, (_, i) => b.add(i));
  await b.drained();
  assert.deepEqual(sizes, [4, 4, 2]);
  assert.deepEqual(await Promise.all(all), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await b.drained();
});

test('a failed flush rejects its own items only; the next flush goes on', async () => {
  let calls = 0;
  const b = new Batcher<string, string>(async (items) => {
    if (calls++ === 0) throw new Error('store down');
    return items.map((s) => s.toUpperCase());
  });
  const bad = b.add('a');
  await assert.rejects(bad, /store down/);
  assert.equal(await b.add('b'), 'B');
});
