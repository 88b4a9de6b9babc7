/**
 * SharedQueue: a bounded multi-producer / multi-consumer queue of variable-size items on
 * one SharedArrayBuffer, shared by the threads of one process (Python's shared_memory queue, in Node's idiom).
 *
 * Synchronous put/get block their thread with Atomics.wait (meant for worker threads: on
 * the main thread they would stall the event loop); putAsync/getAsync wait with
 * Atomics.waitAsync and never block it. Batches take the lock once. See docs/shared-queue.md for layout and guarantees.
 */
import { decode, encode, utf8, type Encoded } from './codec.ts';
import { Empty, Full, ItemTooLarge, SharedQueueError } from './errors.ts';
import { acquire, canBlock, lockTag, release } from './lock.ts';
import { FLAG_WRAP, H, HEADER_BYTES, HEADER_WORDS, MAGIC, RECORD_HEADER, recordSize, ringBytesFor } from './layout.ts';

export interface CreateOptions {
  name: string;
  /** Namespace, so runs of one program cannot collide on a name (a run id). */
  runId?: string;
  /** Most items held at once (default 1024). */
  capacity?: number;
  /** Largest encoded item, bytes (default 4096). */
  maxItemBytes?: number;
}

/** What crosses postMessage/workerData: SharedQueue.connect(handle) on the other side. */
export interface SharedQueueHandle {
  kind: 'conveyor.shared-queue';
  name: string;
  runId: string;
  buffer: SharedArrayBuffer;
}

export interface SharedQueueMetrics {
  name: string;
  runId: string;
  size: number;
  capacity: number;
  utilization: number;
  maxItemBytes: number;
  totalPut: number;
  totalGot: number;
  putWaits: number;
  getWaits: number;
  recoveredLocks: number;
  /** The same figures under the names Python's shared-memory queue metrics use. */
  queue_size: number;
  queue_capacity: number;
  queue_utilization_percent: number;
  queue_item_size_bytes: number;
}

export interface WaitOptions {
  /** false: fail at once with Full/Empty instead of waiting (default true). */
  block?: boolean;
  /** Most ms to wait (default: forever). */
  timeout?: number;
}

const registry = new Map<string, SharedQueueHandle>();

/**
 * Copies for single gets come out of a per-thread slab, as Node's Buffer pool does for
 * small buffers: a new ArrayBuffer per item cost ~1 µs, most of a single get (measured).
 * An item is a view of the slab (as items of a batch are views of the batch's copy).
 */
const SLAB_BYTES = 64 * 1024;
const POOLED_MAX = 4096;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;
function copyOut(src: Uint8Array, from: number, len: number): Uint8Array {
  if (len > POOLED_MAX) return src.slice(from, from + len);
  if (slabUsed + len > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, len);
  out.set(src.subarray(from, from + len));
  slabUsed += (len + 7) & ~7;
  return out;
}
/** Checks of the futex word before sleeping on it (~1-2 µs). */
const SPINS = 2000;
const key = (runId: string, name: string) => `${runId}\u0000${name}`;

function positiveInt(v: unknown, field: string, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw new SharedQueueError('INVALID', `${field} must be an integer from 1 to ${max}; got ${String(v)}`);
  return v;
}

export class SharedQueue<T = unknown> {
  readonly name: string;
  readonly runId: string;
  readonly capacity: number;
  readonly maxItemBytes: number;
  private readonly buffer: SharedArrayBuffer;
  private readonly h: Int32Array;
  private readonly bytes: Uint8Array;
  /** The ring as 32-bit words: record headers are read and written through it (no DataView calls). */
  private readonly words: Int32Array;
  private readonly ringBytes: number;
  private readonly tag = lockTag();
  /** Where a blocking single put encodes JSON text (see encodeAll). */
  private scratch: Uint8Array | null = null;
  private closed = false;

  private constructor(handle: SharedQueueHandle) {
    this.buffer = handle.buffer;
    this.name = handle.name;
    this.runId = handle.runId;
    this.h = new Int32Array(this.buffer, 0, HEADER_WORDS);
    if (Atomics.load(this.h, H.MAGIC) !== MAGIC) throw new SharedQueueError('INVALID', 'not a SharedQueue buffer');
    this.capacity = this.h[H.CAPACITY];
    this.maxItemBytes = this.h[H.MAX_ITEM];
    this.ringBytes = this.h[H.RING_BYTES];
    this.bytes = new Uint8Array(this.buffer, HEADER_BYTES, this.ringBytes);
    this.words = new Int32Array(this.buffer, HEADER_BYTES, this.ringBytes >> 2);
  }

  /** Creates a queue and registers it under (runId, name) in this thread. */
  static create<T = unknown>(options: CreateOptions): SharedQueue<T> {
    if (!options || typeof options.name !== 'string' || options.name.length === 0) throw new SharedQueueError('INVALID', 'a SharedQueue needs a name');
    const runId = options.runId ?? '';
    // Replacing a live queue's registration would orphan the items in it.
    if (registry.has(key(runId, options.name))) {
      throw new SharedQueueError('EXISTS', `a SharedQueue "${options.name}"${runId ? ` in run "${runId}"` : ''} exists in this thread: connect() to it, or unlink() it before creating a new one`);
    }
    const capacity = positiveInt(options.capacity ?? 1024, 'capacity', 1 << 24);
    const maxItemBytes = positiveInt(options.maxItemBytes ?? 4096, 'maxItemBytes', 1 << 26);
    const ringBytes = ringBytesFor(capacity, maxItemBytes);
    if (ringBytes > 2 ** 31 - 1 - HEADER_BYTES) throw new SharedQueueError('INVALID', 'capacity x maxItemBytes is too large (over 2 GiB)');
    const buffer = new SharedArrayBuffer(HEADER_BYTES + ringBytes);
    const h = new Int32Array(buffer, 0, HEADER_WORDS);
    h[H.CAPACITY] = capacity;
    h[H.MAX_ITEM] = maxItemBytes;
    h[H.RING_BYTES] = ringBytes;
    Atomics.store(h, H.MAGIC, MAGIC);
    const handle: SharedQueueHandle = { kind: 'conveyor.shared-queue', name: options.name, runId, buffer };
    registry.set(key(runId, options.name), handle);
    return new SharedQueue<T>(handle);
  }

  /**
   * Connects to a queue: by the handle another thread sent (postMessage, workerData), or by
   * name when this thread created or connected to it before.
   */
  static connect<T = unknown>(target: SharedQueueHandle | string, runId = ''): SharedQueue<T> {
    if (typeof target === 'string') {
      const handle = registry.get(key(runId, target));
      if (!handle) throw new SharedQueueError('NOT_FOUND', `no SharedQueue "${target}"${runId ? ` in run "${runId}"` : ''} is known to this thread; pass its handle (queue.handle) to this thread first`);
      return new SharedQueue<T>(handle);
    }
    if (!target || target.kind !== 'conveyor.shared-queue' || !(target.buffer instanceof SharedArrayBuffer)) {
      throw new SharedQueueError('INVALID', 'not a SharedQueue handle (send queue.handle through postMessage or workerData)');
    }
    registry.set(key(target.runId, target.name), target);
    return new SharedQueue<T>(target);
  }

  get handle(): SharedQueueHandle {
    return { kind: 'conveyor.shared-queue', name: this.name, runId: this.runId, buffer: this.buffer };
  }

  // ----- the ring (callers hold the lock) ------------------------------------------------

  /**
   * Encodes items, refusing the batch if one cannot be encoded or is too large. JSON items
   * of a batch stay text here (stage() writes them in place); a single item gets its bytes.
   */
  private encodeAll(items: readonly unknown[], single: 'sync' | 'async' | null): Encoded[] {
    return items.map((item) => {
      let e: Encoded;
      try {
        e = encode(item);
      } catch (err) {
        throw new SharedQueueError('UNENCODABLE', `item cannot be encoded: ${(err as Error).message}`);
      }
      // UTF-8 takes at least a byte per UTF-16 unit: text longer than the limit is too large.
      if (e.text !== null && e.text.length > this.maxItemBytes) e.bytes = utf8.encode(e.text);
      else if (e.text !== null && single === 'sync') {
        // A blocking put finishes before this thread can start another: its bytes can live
        // in a scratch buffer (a new array per put was a fifth of a single put's time).
        this.scratch ??= new Uint8Array(this.maxItemBytes * 3);
        e.bytes = this.scratch.subarray(0, utf8.encodeInto(e.text, this.scratch).written);
      } else if (e.text !== null && single === 'async') e.bytes = utf8.encode(e.text);
      if (e.bytes !== null && e.bytes.length > this.maxItemBytes) throw new ItemTooLarge(e.bytes.length, this.maxItemBytes);
      return e;
    });
  }

  /**
   * A batch's records laid out as they go into the ring ([length][flags][payload, padded]),
   * built before the lock is taken: under it, a batch that fits before the ring's end is
   * one set(). JSON text is encoded straight into its place (UTF-8 needs at most 3 bytes
   * per UTF-16 unit, so the buffer is sized for that and cut to what was written).
   */
  private stage(encoded: Encoded[]): Uint8Array {
    let bound = 0;
    for (const e of encoded) bound += recordSize(e.bytes !== null ? e.bytes.length : e.text!.length * 3);
    const staged = new Uint8Array(bound);
    const words = new Int32Array(staged.buffer);
    let at = 0;
    for (const e of encoded) {
      let len: number;
      if (e.bytes !== null) {
        len = e.bytes.length;
        staged.set(e.bytes, at + RECORD_HEADER);
      } else {
        len = utf8.encodeInto(e.text!, staged.subarray(at + RECORD_HEADER)).written;
        if (len > this.maxItemBytes) throw new ItemTooLarge(len, this.maxItemBytes);
      }
      words[at >> 2] = len;
      words[(at >> 2) + 1] = e.flags;
      at += recordSize(len);
    }
    return staged.subarray(0, at);
  }

  /**
   * Writes one record in at the tail straight from its encoding (callers hold the lock);
   * returns the new tail. Single puts take this path: staging one item allocated a buffer
   * and a view per put, most of a put's time (measured: 3 µs per put+get, half of it there).
   */
  private writeOne(e: Encoded): number {
    const bytes = e.bytes!;
    let tail = this.h[H.TAIL];
    const size = recordSize(bytes.length);
    if (tail + size > this.ringBytes) {
      if (this.ringBytes - tail >= RECORD_HEADER) this.words[(tail >> 2) + 1] = FLAG_WRAP;
      tail = 0;
    }
    this.words[tail >> 2] = bytes.length;
    this.words[(tail >> 2) + 1] = e.flags;
    this.bytes.set(bytes, tail + RECORD_HEADER);
    return tail + size;
  }

  /** Copies staged records in at the tail (callers hold the lock); returns the new tail. */
  private write(staged: Uint8Array): number {
    let tail = this.h[H.TAIL];
    if (tail + staged.length <= this.ringBytes) {
      this.bytes.set(staged, tail);
      return tail + staged.length;
    }
    // The batch crosses the ring's end: record by record, wrapping where one does not fit.
    const src = new Int32Array(staged.buffer);
    for (let at = 0; at < staged.length; ) {
      const size = recordSize(src[at >> 2]);
      if (tail + size > this.ringBytes) {
        if (this.ringBytes - tail >= RECORD_HEADER) this.words[(tail >> 2) + 1] = FLAG_WRAP;
        tail = 0;
      }
      this.bytes.set(staged.subarray(at, at + size), tail);
      tail += size;
      at += size;
    }
    return tail;
  }

  /**
   * Takes n records off the head (callers hold the lock) as one private copy per contiguous
   * run, so they are decoded after the lock is released. Returns the copies and where each
   * record lies in them.
   */
  private take(n: number): { runs: Uint8Array[]; at: Int32Array } {
    const h = this.h;
    const runs: Uint8Array[] = [];
    // Per record: run index, offset in the run, length, flags.
    const at = new Int32Array(n * 4);
    let head = h[H.HEAD];
    let runStart = head;
    for (let i = 0; i < n; i++) {
      if (this.ringBytes - head < RECORD_HEADER || this.words[(head >> 2) + 1] === FLAG_WRAP) {
        if (head > runStart) runs.push(this.bytes.slice(runStart, head));
        // Clear the marker, so it is never read again once the ring has wrapped.
        if (this.ringBytes - head >= RECORD_HEADER) this.words[(head >> 2) + 1] = 0;
        head = 0;
        runStart = 0;
      }
      const len = this.words[head >> 2];
      at[i * 4] = runs.length;
      at[i * 4 + 1] = head - runStart + RECORD_HEADER;
      at[i * 4 + 2] = len;
      at[i * 4 + 3] = this.words[(head >> 2) + 1];
      head += recordSize(len);
    }
    if (head > runStart) runs.push(this.bytes.slice(runStart, head));
    Atomics.store(h, H.HEAD, head);
    return { runs, at };
  }

  /**
   * Sets the item count from the records between the cursors. After a lock takeover: a
   * thread that died between publishing a cursor and the count left them disagreeing (an
   * item the count missed would otherwise be read in place of the next one put).
   */
  private recount(): void {
    const h = this.h;
    const tail = h[H.TAIL];
    let pos = h[H.HEAD];
    let n = 0;
    // The ring never fills in bytes (one record of slack), so head === tail means empty.
    while (pos !== tail && n <= this.capacity) {
      if (this.ringBytes - pos < RECORD_HEADER || this.words[(pos >> 2) + 1] === FLAG_WRAP) {
        pos = 0;
        continue;
      }
      pos += recordSize(this.words[pos >> 2]);
      n++;
    }
    Atomics.store(h, H.COUNT, n);
  }

  private lock(): void {
    if (acquire(this.h, this.tag)) this.recount();
  }

  /** Writes all or nothing; false when there is no room for all of them. `staged` null: one item, written directly. */
  private tryPut(encoded: Encoded[], staged: Uint8Array | null): boolean {
    this.checkOpen();
    // The count is read without the lock; it is stale only while a dead thread holds the
    // lock, so a held lock sends even a "full" answer through lock() (which takes it over).
    if (Atomics.load(this.h, H.COUNT) + encoded.length > this.capacity && Atomics.load(this.h, H.LOCK) === 0) return false;
    this.lock();
    try {
      if (this.h[H.COUNT] + encoded.length > this.capacity) return false;
      // Publish once per batch: the cursor, then the count (a recount repairs a thread that
      // died between the two).
      Atomics.store(this.h, H.TAIL, staged === null ? this.writeOne(encoded[0]) : this.write(staged));
      Atomics.add(this.h, H.COUNT, encoded.length);
      Atomics.add(this.h, H.TOTAL_PUT, encoded.length);
    } finally {
      release(this.h, this.tag);
    }
    Atomics.add(this.h, H.PUT_SEQ, 1);
    if (Atomics.load(this.h, H.GET_SLEEPERS) > 0) Atomics.notify(this.h, H.PUT_SEQ);
    return true;
  }

  /**
   * One item: its payload copied out under the lock (the reader's own bytes), decoded after.
   * No run list or index array: single gets allocate only the copy.
   */
  private tryGetOne(): [unknown] | undefined {
    this.checkOpen();
    if (Atomics.load(this.h, H.COUNT) === 0 && Atomics.load(this.h, H.LOCK) === 0) return undefined;
    let copy: Uint8Array;
    let flags: number;
    this.lock();
    try {
      if (this.h[H.COUNT] === 0) return undefined;
      let head = this.h[H.HEAD];
      if (this.ringBytes - head < RECORD_HEADER || this.words[(head >> 2) + 1] === FLAG_WRAP) {
        // Clear the marker, so it is never read again once the ring has wrapped.
        if (this.ringBytes - head >= RECORD_HEADER) this.words[(head >> 2) + 1] = 0;
        head = 0;
      }
      const len = this.words[head >> 2];
      flags = this.words[(head >> 2) + 1];
      copy = copyOut(this.bytes, head + RECORD_HEADER, len);
      Atomics.store(this.h, H.HEAD, head + recordSize(len));
      Atomics.sub(this.h, H.COUNT, 1);
      Atomics.add(this.h, H.TOTAL_GOT, 1);
    } finally {
      release(this.h, this.tag);
    }
    const item = decode(copy, flags);
    Atomics.add(this.h, H.GET_SEQ, 1);
    if (Atomics.load(this.h, H.PUT_SLEEPERS) > 0) Atomics.notify(this.h, H.GET_SEQ);
    return [item];
  }

  private tryGet(max: number): unknown[] {
    this.checkOpen();
    if (Atomics.load(this.h, H.COUNT) === 0 && Atomics.load(this.h, H.LOCK) === 0) return [];
    let taken: { runs: Uint8Array[]; at: Int32Array };
    let n: number;
    this.lock();
    try {
      n = Math.min(max, this.h[H.COUNT]);
      taken = this.take(n);
      Atomics.sub(this.h, H.COUNT, n);
      Atomics.add(this.h, H.TOTAL_GOT, n);
    } finally {
      release(this.h, this.tag);
    }
    // Decoded outside the lock, from this thread's own copy: raw items are views of it.
    const out: unknown[] = new Array(n);
    const { runs, at } = taken;
    for (let i = 0; i < n; i++) {
      const run = runs[at[i * 4]];
      const off = at[i * 4 + 1];
      out[i] = decode(run.subarray(off, off + at[i * 4 + 2]), at[i * 4 + 3]);
    }
    if (out.length > 0) {
      Atomics.add(this.h, H.GET_SEQ, 1);
      if (Atomics.load(this.h, H.PUT_SLEEPERS) > 0) Atomics.notify(this.h, H.GET_SEQ);
    }
    return out;
  }

  private checkOpen(): void {
    if (this.closed) throw new SharedQueueError('CLOSED', `SharedQueue "${this.name}" is closed in this thread`);
  }

  // ----- blocking helpers ----------------------------------------------------------------

  /**
   * Retries `attempt` until it succeeds or the deadline passes. Between tries it watches
   * the word for a short spin (a hand-off between two running threads takes well under a
   * microsecond; a futex sleep and wake-up takes several), then sleeps on it, counted in
   * `sleepersWord` so the other side wakes it only when someone sleeps.
   */
  private blockUntil<R>(attempt: () => R | undefined, word: number, waitsWord: number, opts: WaitOptions, fail: () => Error): R {
    const first = attempt();
    if (first !== undefined) return first;
    if (opts.block === false) throw fail();
    if (!canBlock) throw new SharedQueueError('CANNOT_BLOCK', 'this thread cannot block: use putAsync/getAsync, or block: false');
    const deadline = opts.timeout === undefined ? Infinity : Date.now() + checkTimeout(opts.timeout);
    const sleepers = word === H.PUT_SEQ ? H.GET_SLEEPERS : H.PUT_SLEEPERS;
    Atomics.add(this.h, waitsWord, 1);
    for (;;) {
      const seq = Atomics.load(this.h, word);
      const r = attempt();
      if (r !== undefined) return r;
      for (let spin = 0; spin < SPINS && Atomics.load(this.h, word) === seq; spin++);
      if (Atomics.load(this.h, word) !== seq) continue;
      const left = deadline - Date.now();
      if (left <= 0) throw fail();
      Atomics.add(this.h, sleepers, 1);
      Atomics.wait(this.h, word, seq, Math.min(left, 1000));
      Atomics.sub(this.h, sleepers, 1);
    }
  }

  private async waitUntil<R>(attempt: () => R | undefined, word: number, waitsWord: number, opts: WaitOptions, fail: () => Error): Promise<R> {
    const first = attempt();
    if (first !== undefined) return first;
    if (opts.block === false) throw fail();
    const deadline = opts.timeout === undefined ? Infinity : Date.now() + checkTimeout(opts.timeout);
    const sleepers = word === H.PUT_SEQ ? H.GET_SLEEPERS : H.PUT_SLEEPERS;
    Atomics.add(this.h, waitsWord, 1);
    for (;;) {
      const seq = Atomics.load(this.h, word);
      const r = attempt();
      if (r !== undefined) return r;
      const left = deadline - Date.now();
      if (left <= 0) throw fail();
      Atomics.add(this.h, sleepers, 1);
      const w = Atomics.waitAsync(this.h, word, seq, Math.min(left, 1000));
      if (w.async) {
        // waitAsync alone does not keep Node alive: a timer does, for as long as we wait.
        const keepAlive = setTimeout(() => {}, Math.min(left, 1000) + 10);
        await w.value;
        clearTimeout(keepAlive);
      }
      Atomics.sub(this.h, sleepers, 1);
    }
  }

  // ----- public API ---------------------------------------------------------------------

  /** Adds an item, waiting for room (worker threads). */
  put(item: T, opts: WaitOptions = {}): void {
    const encoded = this.encodeAll([item], 'sync');
    this.blockUntil(() => (this.tryPut(encoded, null) ? true : undefined), H.GET_SEQ, H.PUT_WAITS, opts, () => new Full());
  }

  putNowait(item: T): void {
    this.put(item, { block: false });
  }

  async putAsync(item: T, opts: WaitOptions = {}): Promise<void> {
    const encoded = this.encodeAll([item], 'async');
    await this.waitUntil(() => (this.tryPut(encoded, null) ? true : undefined), H.GET_SEQ, H.PUT_WAITS, opts, () => new Full());
  }

  /** Adds all items at once or none: waits until there is room for all of them. */
  putBatch(items: readonly T[], opts: WaitOptions = {}): void {
    const encoded = this.checkBatch(items);
    if (encoded.length === 0) return;
    const staged = this.stage(encoded);
    this.blockUntil(() => (this.tryPut(encoded, staged) ? true : undefined), H.GET_SEQ, H.PUT_WAITS, opts, () => new Full(`no room for ${encoded.length} items`));
  }

  async putBatchAsync(items: readonly T[], opts: WaitOptions = {}): Promise<void> {
    const encoded = this.checkBatch(items);
    if (encoded.length === 0) return;
    const staged = this.stage(encoded);
    await this.waitUntil(() => (this.tryPut(encoded, staged) ? true : undefined), H.GET_SEQ, H.PUT_WAITS, opts, () => new Full(`no room for ${encoded.length} items`));
  }

  private checkBatch(items: readonly T[]): Encoded[] {
    if (!Array.isArray(items)) throw new SharedQueueError('INVALID', 'putBatch takes an array');
    if (items.length > this.capacity) throw new SharedQueueError('INVALID', `a batch of ${items.length} can never fit a queue of capacity ${this.capacity}`);
    return this.encodeAll(items, null);
  }

  /** Takes the oldest item, waiting for one (worker threads). */
  get(opts: WaitOptions = {}): T {
    return this.blockUntil(() => this.takeOne(), H.PUT_SEQ, H.GET_WAITS, opts, () => new Empty())[0];
  }

  getNowait(): T {
    return this.get({ block: false });
  }

  async getAsync(opts: WaitOptions = {}): Promise<T> {
    return (await this.waitUntil(() => this.takeOne(), H.PUT_SEQ, H.GET_WAITS, opts, () => new Empty()))[0];
  }

  /** Takes up to `max` items; waits (per opts) only while the queue is empty. */
  getMany(max: number, opts: WaitOptions = {}): T[] {
    positiveInt(max, 'max', 1 << 24);
    return this.blockUntil(() => nonEmpty(this.tryGet(max) as T[]), H.PUT_SEQ, H.GET_WAITS, opts, () => new Empty());
  }

  async getManyAsync(max: number, opts: WaitOptions = {}): Promise<T[]> {
    positiveInt(max, 'max', 1 << 24);
    return this.waitUntil(() => nonEmpty(this.tryGet(max) as T[]), H.PUT_SEQ, H.GET_WAITS, opts, () => new Empty());
  }

  /** [item], or undefined when empty (an item may itself be undefined). */
  private takeOne(): [T] | undefined {
    return this.tryGetOne() as [T] | undefined;
  }

  size(): number {
    return Atomics.load(this.h, H.COUNT);
  }

  empty(): boolean {
    return this.size() === 0;
  }

  full(): boolean {
    return this.size() >= this.capacity;
  }

  metrics(): SharedQueueMetrics {
    const size = this.size();
    const u = (w: number) => Atomics.load(this.h, w) >>> 0;
    return {
      name: this.name,
      runId: this.runId,
      size,
      capacity: this.capacity,
      utilization: size / this.capacity,
      maxItemBytes: this.maxItemBytes,
      totalPut: u(H.TOTAL_PUT),
      totalGot: u(H.TOTAL_GOT),
      putWaits: u(H.PUT_WAITS),
      getWaits: u(H.GET_WAITS),
      recoveredLocks: u(H.RECOVERED),
      queue_size: size,
      queue_capacity: this.capacity,
      queue_utilization_percent: Math.round((size / this.capacity) * 10_000) / 100,
      queue_item_size_bytes: this.maxItemBytes,
    };
  }

  /** This thread is done with the queue; others keep theirs. The memory goes with the last reference. */
  close(): void {
    this.closed = true;
  }

  /** Forgets the name in this thread's registry (like shared memory's unlink). */
  unlink(): void {
    registry.delete(key(this.runId, this.name));
    this.close();
  }
}

function nonEmpty<T>(items: T[]): T[] | undefined {
  return items.length === 0 ? undefined : items;
}

function checkTimeout(t: unknown): number {
  if (typeof t !== 'number' || !(t >= 0)) throw new SharedQueueError('INVALID', `timeout must be ms >= 0; got ${String(t)}`);
  return t;
}
