/**
 * A tiny lock on one Int32 of shared memory (the word after it counts acquisitions), held
 * only while records are copied in or out (microseconds). A waiter that sees the same owner
 * and generation for longer than STALE_MS takes the lock over, and tells its caller so: the
 * dead owner may have stopped between publishing a cursor and a count, which the caller then
 * repairs.
 */
import { H } from './layout.ts';

const STALE_MS = 1000;
let nextTag = 1;
/** A per-thread-and-handle tag (never 0). Threads differ by a random high part. */
export function lockTag(): number {
  return ((Math.random() * 0x3fff) << 16) | (nextTag++ & 0xffff) | 1;
}

const canBlock = (() => {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
})();

/**
 * Takes the lock at `word`; true when it was taken over from a dead owner, once `now` (ms)
 * has seen it held unchanged for STALE_MS.
 */
export function acquire(h: Int32Array, word: number, tag: number, now: () => number): boolean {
  if (Atomics.compareExchange(h, word, 0, tag) === 0) {
    Atomics.add(h, word + 1, 1);
    return false;
  }
  let spins = 0;
  let seenOwner = 0;
  let seenGen = 0;
  let since = 0;
  for (;;) {
    const owner = Atomics.compareExchange(h, word, 0, tag);
    if (owner === 0) {
      Atomics.add(h, word + 1, 1);
      return false;
    }
    const gen = Atomics.load(h, word + 1);
    if (owner !== seenOwner || gen !== seenGen) {
      seenOwner = owner;
      seenGen = gen;
      since = 0;
    } else if (++spins % 1024 === 0) {
      const t = now();
      if (since === 0) since = t;
      else if (t - since > STALE_MS && Atomics.compareExchange(h, word, owner, tag) === owner) {
        // The owner died holding the lock.
        Atomics.add(h, word + 1, 1);
        Atomics.add(h, H.RECOVERED, 1);
        return true;
      }
      if (canBlock) Atomics.wait(h, word, owner, 1);
    }
  }
}

export function release(h: Int32Array, word: number, tag: number): void {
  Atomics.compareExchange(h, word, tag, 0);
}

export { canBlock };
