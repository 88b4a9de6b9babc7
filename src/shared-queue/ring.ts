/**
 * The ring on shared memory (layout.ts) and the two locks that guard it.
 *
 * Producers take the producers' lock to write records at the tail, then publish the tail and
 * the count of items put; consumers take the consumers' lock to copy records out at the
 * head, then publish the head and the count taken. A side reads the other's cursor or count
 * and never writes it, so one producer and one consumer never wait for each other, and each
 * takes a lock nobody else contends (one compare-and-swap on a cache line of its own). A
 * record is copied out before the head moves past it, so a producer never writes over
 * bytes a consumer still reads. Many producers (or consumers) take turns on their lock.
 *
 * Room is counted in items: the ring holds `capacity` records of the largest size plus one
 * (layout.ts), so while PUT_N - GOT_N < capacity there are bytes for the next record.
 *
 * A thread that dies holding a lock is taken over after a second (lock.ts). It may have
 * stopped between publishing a cursor and its count; settle() then recounts the records
 * between the cursors under both locks, always taken producers' first.
 */
import type { Encoded } from './codec.ts';
import { acquire, release } from './lock.ts';
import { FLAG_RAW, FLAG_WRAP, H, RECORD_HEADER, recordSize } from './layout.ts';
import { slabView } from './slab.ts';

/** Records taken in one go: their bytes in one private copy, and where each lies in it. */
export interface Taken {
  copy: Uint8Array;
  /** Per record: offset in `copy`, length, flags. */
  at: Int32Array;
  n: number;
}

export class Ring {
  /** The flags of the record takeOne() returned last. */
  flags = 0;
  /**
   * GOT_N as this producer last read it. Room is counted against it and GOT_N re-read only
   * when that says full: GOT_N only grows, so an old value only undercounts room, and reading
   * the consumers' line on every put cost a cache-line transfer per item.
   */
  private gotSeen = 0;

  private readonly h: Int32Array;
  private readonly bytes: Uint8Array;
  /** The ring as 32-bit words: record headers are read and written through it. */
  private readonly words: Int32Array;
  private readonly capacity: number;
  private readonly tag: number;
  /** What a waiter times a stuck lock with (SharedQueue options.clock). */
  private readonly now: () => number;

  constructor(h: Int32Array, bytes: Uint8Array, words: Int32Array, capacity: number, tag: number, now: () => number) {
    this.h = h;
    this.now = now;
    this.bytes = bytes;
    this.words = words;
    this.capacity = capacity;
    this.tag = tag;
  }

  private get ringBytes(): number {
    return this.bytes.length;
  }

  /** Items in the queue (a dead thread's unpublished count can make it stale until settled). */
  size(): number {
    const n = (Atomics.load(this.h, H.PUT_N) - Atomics.load(this.h, H.GOT_N)) | 0;
    return n < 0 ? 0 : n;
  }

  // ----- producers -------------------------------------------------------------------

  /** One encoded item; false when the queue is full. */
  putOne(e: Encoded): boolean {
    if (!this.begin(1)) return false;
    this.end(this.writeOne(e), 1);
    return true;
  }

  /** `n` records laid out as they go in (SharedQueue.stage), all or none; false when there is no room for all. */
  putStaged(n: number, staged: Uint8Array): boolean {
    if (!this.begin(n)) return false;
    this.end(this.write(staged), n);
    return true;
  }

  /** Takes the producers' lock if there is room for n; false (lock not held) when there is not. */
  private begin(n: number): boolean {
    const h = this.h;
    if (!this.roomFor(n)) {
      // Full, or a consumer died between moving the head and the count taken (which only
      // makes the queue look fuller): settle() finds out, taking its lock over if need be.
      if (Atomics.load(h, H.C_LOCK) === 0) return false;
      this.settle(false);
      if (!this.roomFor(n)) return false;
    }
    this.lockProducers();
    if (!this.roomFor(n)) {
      release(h, H.P_LOCK, this.tag);
      return false;
    }
    return true;
  }

  private roomFor(n: number): boolean {
    const put = Atomics.load(this.h, H.PUT_N);
    if (((put - this.gotSeen) | 0) + n <= this.capacity) return true;
    this.gotSeen = Atomics.load(this.h, H.GOT_N);
    return ((put - this.gotSeen) | 0) + n <= this.capacity;
  }

  /** Publishes what begin() let us write: the tail (consumers read up to it), then the count. */
  private end(tail: number, n: number): void {
    const h = this.h;
    Atomics.store(h, H.TAIL, tail);
    Atomics.add(h, H.PUT_N, n);
    release(h, H.P_LOCK, this.tag);
    if (Atomics.load(h, H.GET_SLEEPERS) > 0) Atomics.notify(h, H.PUT_N);
  }

  /** One record at the tail, straight from its encoding; returns the new tail. */
  private writeOne(e: Encoded): number {
    const bytes = e.bytes!;
    const size = recordSize(bytes.length);
    const tail = this.place(this.h[H.TAIL], size);
    this.words[tail >> 2] = bytes.length;
    this.words[(tail >> 2) + 1] = e.flags;
    this.bytes.set(bytes, tail + RECORD_HEADER);
    return tail + size;
  }

  /** Where a record of `size` bytes goes from `tail`: there, or 0 after a WRAP mark when it does not fit before the end. */
  private place(tail: number, size: number): number {
    if (tail + size <= this.ringBytes) return tail;
    if (this.ringBytes - tail >= RECORD_HEADER) this.words[(tail >> 2) + 1] = FLAG_WRAP;
    return 0;
  }

  /** Staged records at the tail: one set() unless they cross the ring's end; returns the new tail. */
  private write(staged: Uint8Array): number {
    let tail = this.h[H.TAIL];
    if (tail + staged.length <= this.ringBytes) {
      this.bytes.set(staged, tail);
      return tail + staged.length;
    }
    const src = new Int32Array(staged.buffer, staged.byteOffset, staged.length >> 2);
    for (let at = 0; at < staged.length; ) {
      const size = recordSize(src[at >> 2]);
      tail = this.place(tail, size);
      this.bytes.set(staged.subarray(at, at + size), tail);
      tail += size;
      at += size;
    }
    return tail;
  }

  // ----- consumers -------------------------------------------------------------------

  /** Where the record at `pos` starts: 0 when a WRAP record (or too little room for a header) ends the ring there. */
  private start(pos: number): number {
    return this.ringBytes - pos < RECORD_HEADER || this.words[(pos >> 2) + 1] === FLAG_WRAP ? 0 : pos;
  }

  /** The oldest item's payload, as this thread's own copy (its flags in `this.flags`); undefined when empty. */
  takeOne(): Uint8Array | undefined {
    const h = this.h;
    if (Atomics.load(h, H.HEAD) === Atomics.load(h, H.TAIL)) return undefined;
    let copy: Uint8Array;
    this.lockConsumers();
    try {
      let head = Atomics.load(h, H.HEAD);
      if (head === Atomics.load(h, H.TAIL)) return undefined;
      head = this.start(head);
      const len = this.words[head >> 2];
      this.flags = this.words[(head >> 2) + 1];
      copy = slabView(len);
      copy.set(this.bytes.subarray(head + RECORD_HEADER, head + RECORD_HEADER + len));
      Atomics.store(h, H.HEAD, head + recordSize(len));
      Atomics.add(h, H.GOT_N, 1);
    } finally {
      release(h, H.C_LOCK, this.tag);
    }
    if (Atomics.load(h, H.PUT_SLEEPERS) > 0) Atomics.notify(h, H.GOT_N);
    return copy;
  }

  /**
   * Takes up to `max` records, copied out with one or two set()s (two when they cross the
   * ring's end) into `dest(len)`. `rawOnly` stops before the first record that is not raw
   * bytes. Returns undefined when the queue is empty.
   */
  take(max: number, rawOnly: boolean, dest: (len: number) => Uint8Array, at: Int32Array): Taken | undefined {
    const h = this.h;
    if (Atomics.load(h, H.HEAD) === Atomics.load(h, H.TAIL)) return undefined;
    let copy: Uint8Array;
    let n = 0;
    this.lockConsumers();
    try {
      const head = Atomics.load(h, H.HEAD);
      // Read up to the tail, not PUT_N - GOT_N records: a consumer that died between moving
      // the head and the count left GOT_N behind, and the tail is right even then.
      const tail = Atomics.load(h, H.TAIL);
      if (head === tail) return undefined;
      // Records lie in [head, firstEnd) and, after a wrap, [0, pos).
      let pos = head;
      let firstEnd = -1;
      while (n < max && pos !== tail) {
        const s = this.start(pos);
        if (s !== pos) {
          firstEnd = pos;
          pos = 0;
          continue;
        }
        const len = this.words[pos >> 2];
        const flags = this.words[(pos >> 2) + 1];
        if (rawOnly && (flags & FLAG_RAW) === 0) break;
        at[n * 3] = (firstEnd < 0 ? pos - head : firstEnd - head + pos) + RECORD_HEADER;
        at[n * 3 + 1] = len;
        at[n * 3 + 2] = flags;
        pos += recordSize(len);
        n++;
      }
      if (n === 0) {
        copy = new Uint8Array(0);
      } else if (firstEnd < 0) {
        copy = dest(pos - head);
        copy.set(this.bytes.subarray(head, pos));
      } else {
        copy = dest(firstEnd - head + pos);
        copy.set(this.bytes.subarray(head, firstEnd));
        copy.set(this.bytes.subarray(0, pos), firstEnd - head);
      }
      if (n > 0) {
        Atomics.store(h, H.HEAD, pos);
        Atomics.add(h, H.GOT_N, n);
      }
    } finally {
      release(h, H.C_LOCK, this.tag);
    }
    if (n > 0 && Atomics.load(h, H.PUT_SLEEPERS) > 0) Atomics.notify(h, H.GOT_N);
    return { copy, at, n };
  }

  // ----- dead threads ----------------------------------------------------------------

  private lockProducers(): void {
    // Taken over: recount with the consumers' lock too (producers' first, as settle() does).
    if (!acquire(this.h, H.P_LOCK, this.tag, this.now)) return;
    acquire(this.h, H.C_LOCK, this.tag, this.now);
    this.recount();
    release(this.h, H.C_LOCK, this.tag);
  }

  private lockConsumers(): void {
    // Taken over: a consumer must not wait for the producers' lock while it holds its own
    // (settle() takes them in the other order), so it lets go and settles first. Meanwhile
    // the count can only look too high, which holds producers back, never lets them overrun.
    while (acquire(this.h, H.C_LOCK, this.tag, this.now)) {
      release(this.h, H.C_LOCK, this.tag);
      this.settle(true);
    }
  }

  /** Takes both locks; recounts when told to or when either was taken over from a dead thread. */
  private settle(force: boolean): void {
    const tookP = acquire(this.h, H.P_LOCK, this.tag, this.now);
    const tookC = acquire(this.h, H.C_LOCK, this.tag, this.now);
    if (force || tookP || tookC) this.recount();
    release(this.h, H.C_LOCK, this.tag);
    release(this.h, H.P_LOCK, this.tag);
  }

  /** PUT_N from the records between the cursors (callers hold both locks). */
  private recount(): void {
    const h = this.h;
    const tail = Atomics.load(h, H.TAIL);
    let pos = Atomics.load(h, H.HEAD);
    let n = 0;
    while (pos !== tail && n <= this.capacity) {
      const s = this.start(pos);
      if (s !== pos) {
        pos = 0;
        continue;
      }
      pos += recordSize(this.words[pos >> 2]);
      n++;
    }
    Atomics.store(h, H.PUT_N, (Atomics.load(h, H.GOT_N) + n) | 0);
    Atomics.notify(h, H.PUT_N);
    Atomics.notify(h, H.GOT_N);
  }
}

