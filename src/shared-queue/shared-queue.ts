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
import type { Clock } from '../core/clock.ts';
import { canBlock, lockTag } from './lock.ts';
import { FLAG_RAW, H, HEADER_BYTES, HEADER_WORDS, MAGIC, RECORD_HEADER, recordSize, ringBytesFor } from './layout.ts';
import { Ring } from './ring.ts';
import { scratchView, slabView } from './slab.ts';

export interface CreateOptions {
  name: string;
  /** Namespace, so runs of one program cannot collide on a name (a run id). */
  runId?: string;
  /** Most items held at once (default 1024). */
  capacity?: number;
  /** Largest encoded item, bytes (default 4096). */
  maxItemBytes?: number;
  /** See ConnectOptions.clock. */
  clock?: ConnectOptions['clock'];
}

export interface ConnectOptions {
  /**
   * The clock on which this handle measures how long a lock has been held unchanged (a
   * thread died holding it): after 1 s it takes the lock over. Default: the system clock;
   * tests pass one that moves on by itself. Blocking waits time out in real time whatever
   * this clock says (Atomics.wait).
   */
  clock?: Pick<Clock, 'now'>;
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

/** A batch ready to go in: its records laid out as they go into the ring. */
interface Batch {
  n: number;
  staged: Uint8Array;
}

/** Sees one raw item: its bytes are bytes[offset, offset + length), valid only during the call. */
export type RawItemHandler = (bytes: Uint8Array, offset: number, length: number) => void;

const registry = new Map<string, SharedQueueHandle>();

const NO_OPTIONS: WaitOptions = Object.freeze({});
/** Checks of the futex word before sleeping on it (~1-2 µs). */
const SPINS = 2000;
const key = (runId: string, name: string) => `${runId}\u0000${name}`;

function clockOf(options: ConnectOptions | undefined): () => number {
  const clock = options?.clock;
  if (clock === undefined) return Date.now;
  if (clock === null || typeof clock.now !== 'function') throw new SharedQueueError('INVALID', 'clock must be an object with a now() method');
  return () => clock.now();
}

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
  private readonly ring: Ring;
  /** Where a blocking single put encodes JSON text (see encodeAll). */
  private scratch: Uint8Array | null = null;
  /** A synchronous putBatch's staging buffer, reused (an async one may be overtaken while it waits). */
  private staging: Uint8Array | null = null;
  /** consumeRaw's record index, reused (see tryConsumeRaw). */
  private rawAt: Int32Array | null = null;
  private closed = false;

  private constructor(handle: SharedQueueHandle, now: () => number) {
    this.buffer = handle.buffer;
    this.name = handle.name;
    this.runId = handle.runId;
    this.h = new Int32Array(this.buffer, 0, HEADER_WORDS);
    if (Atomics.load(this.h, H.MAGIC) !== MAGIC) throw new SharedQueueError('INVALID', 'not a SharedQueue buffer');
    this.capacity = this.h[H.CAPACITY];
    this.maxItemBytes = this.h[H.MAX_ITEM];
    const ringBytes = this.h[H.RING_BYTES];
    const bytes = new Uint8Array(this.buffer, HEADER_BYTES, ringBytes);
    this.ring = new Ring(this.h, bytes, new Int32Array(this.buffer, HEADER_BYTES, ringBytes >> 2), this.capacity, lockTag(), now);
  }

  /** Creates a queue and registers it under (runId, name) in this thread. */
  static create<T = unknown>(options: CreateOptions): SharedQueue<T> {
    if (!options || typeof options.name !== 'string' || options.name.length === 0) throw new SharedQueueError('INVALID', 'a SharedQueue needs a name');
    const runId = options.runId ?? '';
    const now = clockOf(options);
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
    return new SharedQueue<T>(handle, now);
  }

  /**
   * Connects to a queue: by the handle another thread sent (postMessage, workerData), or by
   * name when this thread created or connected to it before.
   */
  static connect<T = unknown>(target: SharedQueueHandle | string, runId = '', options: ConnectOptions = {}): SharedQueue<T> {
    const now = clockOf(options);
    if (typeof target === 'string') {
      const handle = registry.get(key(runId, target));
      if (!handle) throw new SharedQueueError('NOT_FOUND', `no SharedQueue "${target}"${runId ? ` in run "${runId}"` : ''} is known to this thread; pass its handle (queue.handle) to this thread first`);
      return new SharedQueue<T>(handle, now);
    }
    if (!target || target.kind !== 'conveyor.shared-queue' || !(target.buffer instanceof SharedArrayBuffer)) {
      throw new SharedQueueError('INVALID', 'not a SharedQueue handle (send queue.handle through postMessage or workerData)');
    }
    registry.set(key(target.runId, target.name), target);
    return new SharedQueue<T>(target, now);
  }

  get handle(): SharedQueueHandle {
    return { kind: 'conveyor.shared-queue', name: this.name, runId: this.runId, buffer: this.buffer };
  }

  // ----- encoding and the ring ---------------------------------------------------------

  /**
   * Encodes items, refusing the batch if one cannot be encoded or is too large. JSON items
   * of a batch stay text here (stage() writes them in place); a single item gets its bytes.
   */
  private encodeAll(items: readonly unknown[]): Encoded[] {
    return items.map((item) => this.encodeOne(item, null));
  }

  private encodeOne(item: unknown, single: 'sync' | 'async' | null): Encoded {
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
  }

  /**
   * A batch's records laid out as they go into the ring ([length][flags][payload, padded]),
   * built before the lock is taken: under it, a batch that fits before the ring's end is
   * one set(). JSON text is encoded straight into its place (UTF-8 needs at most 3 bytes
   * per UTF-16 unit, so the buffer is sized for that and cut to what was written).
   * `reuse`: a blocking put, which returns before this thread can stage another batch, so
   * its buffer is kept for the next (fresh memory cost more than the copy into it).
   */
  private stage(encoded: readonly (Encoded | Uint8Array)[], reuse: boolean): Uint8Array {
    let bound = 0;
    for (const e of encoded) bound += recordSize(e instanceof Uint8Array ? e.length : e.bytes !== null ? e.bytes.length : e.text!.length * 3);
    let staged: Uint8Array;
    if (!reuse) staged = new Uint8Array(bound);
    else {
      if (this.staging === null || this.staging.length < bound) this.staging = new Uint8Array(Math.max(bound, 64 * 1024));
      staged = this.staging;
    }
    const words = new Int32Array(staged.buffer, 0, staged.length >> 2);
    let at = 0;
    for (const e of encoded) {
      let len: number;
      let flags: number;
      if (e instanceof Uint8Array) {
        len = e.length;
        flags = FLAG_RAW;
        staged.set(e, at + RECORD_HEADER);
      } else if (e.bytes !== null) {
        len = e.bytes.length;
        flags = e.flags;
        staged.set(e.bytes, at + RECORD_HEADER);
      } else {
        len = utf8.encodeInto(e.text!, staged.subarray(at + RECORD_HEADER)).written;
        if (len > this.maxItemBytes) throw new ItemTooLarge(len, this.maxItemBytes);
        flags = e.flags;
      }
      words[at >> 2] = len;
      words[(at >> 2) + 1] = flags;
      at += recordSize(len);
    }
    return staged.subarray(0, at);
  }

  private tryPutOne(e: Encoded): true | undefined {
    this.checkOpen();
    return this.ring.putOne(e) || undefined;
  }

  /** A staged batch, all or none. */
  private tryPutBatch(batch: Batch): true | undefined {
    this.checkOpen();
    return this.ring.putStaged(batch.n, batch.staged) || undefined;
  }

  /** [item], or undefined when empty (an item may itself be undefined). Decoded after the lock is let go. */
  private tryGetOne(): [T] | undefined {
    this.checkOpen();
    const copy = this.ring.takeOne();
    return copy === undefined ? undefined : [decode(copy, this.ring.flags) as T];
  }

  private tryGet(max: number): T[] | undefined {
    this.checkOpen();
    const taken = this.ring.take(max, false, slabView, new Int32Array(Math.min(max, this.capacity) * 3));
    if (taken === undefined) return undefined;
    // Decoded outside the lock, from this thread's own copy: raw items are views of it.
    const { copy, at, n } = taken;
    const out: T[] = new Array(n);
    const base = copy.byteOffset;
    for (let i = 0; i < n; i++) {
      const flags = at[i * 3 + 2];
      const bytes = new Uint8Array(copy.buffer, base + at[i * 3], at[i * 3 + 1]);
      out[i] = (flags & FLAG_RAW ? bytes : decode(bytes, flags)) as T;
    }
    return out;
  }

  private tryConsumeRaw(max: number, onItem: RawItemHandler): number | undefined {
    this.checkOpen();
    if (this.rawAt === null || this.rawAt.length < Math.min(max, this.capacity) * 3) this.rawAt = new Int32Array(Math.min(max, this.capacity) * 3);
    const taken = this.ring.take(max, true, scratchView, this.rawAt);
    if (taken === undefined) return undefined;
    if (taken.n === 0) throw new SharedQueueError('NOT_RAW', 'the next item is not raw bytes: take it with get() or getMany(); it is still in the queue');
    const { copy, at, n } = taken;
    // The items are taken already: one handler's throw must not lose the rest. Each gets its
    // call; the first error is thrown after the last.
    let failed = false;
    let error: unknown;
    for (let i = 0; i < n; i++) {
      try {
        onItem(copy, at[i * 3], at[i * 3 + 1]);
      } catch (err) {
        if (!failed) error = err;
        failed = true;
      }
    }
    if (failed) throw error;
    return n;
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
    const sleepers = word === H.PUT_N ? H.GET_SLEEPERS : H.PUT_SLEEPERS;
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
    const sleepers = word === H.PUT_N ? H.GET_SLEEPERS : H.PUT_SLEEPERS;
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
  put(item: T, opts: WaitOptions = NO_OPTIONS): void {
    const e = this.encodeOne(item, 'sync');
    // Tried once before the waiting machinery: its closures cost a tenth of a small put.
    if (this.tryPutOne(e)) return;
    this.blockUntil(() => this.tryPutOne(e), H.GOT_N, H.PUT_WAITS, opts, () => new Full());
  }

  putNowait(item: T): void {
    this.put(item, { block: false });
  }

  async putAsync(item: T, opts: WaitOptions = {}): Promise<void> {
    const e = this.encodeOne(item, 'async');
    await this.waitUntil(() => this.tryPutOne(e), H.GOT_N, H.PUT_WAITS, opts, () => new Full());
  }

  /** Adds all items at once or none: waits until there is room for all of them. */
  putBatch(items: readonly T[], opts: WaitOptions = {}): void {
    const batch = this.prepareBatch(items, true);
    if (batch.n === 0) return;
    this.blockUntil(() => this.tryPutBatch(batch), H.GOT_N, H.PUT_WAITS, opts, () => new Full(`no room for ${batch.n} items`));
  }

  async putBatchAsync(items: readonly T[], opts: WaitOptions = {}): Promise<void> {
    const batch = this.prepareBatch(items, false);
    if (batch.n === 0) return;
    await this.waitUntil(() => this.tryPutBatch(batch), H.GOT_N, H.PUT_WAITS, opts, () => new Full(`no room for ${batch.n} items`));
  }

  /** Checks a batch whole before any of it goes in; `sync`: a blocking put (see stage). */
  private prepareBatch(items: readonly T[], sync: boolean): Batch {
    if (!Array.isArray(items)) throw new SharedQueueError('INVALID', 'putBatch takes an array');
    if (items.length > this.capacity) throw new SharedQueueError('INVALID', `a batch of ${items.length} can never fit a queue of capacity ${this.capacity}`);
    let raw = true;
    for (let i = 0; i < items.length && raw; i++) {
      const item = items[i];
      if (!(item instanceof Uint8Array)) raw = false;
      else if (item.length > this.maxItemBytes) throw new ItemTooLarge(item.length, this.maxItemBytes);
    }
    // Raw items need no encoding, nor an object each: they are staged as they are. Written
    // record by record straight into the ring, one producer ran at ~8 M items/s; staged and
    // written with one set(), ~13 M (the lines the other core just read come back in one
    // stream, not one item at a time).
    return { n: items.length, staged: this.stage(raw ? (items as readonly Uint8Array[]) : this.encodeAll(items), sync) };
  }

  /**
   * Takes the oldest item, waiting for one (worker threads). A raw item is a view of a
   * per-thread slab (as small Buffers are of Node's pool): `slice()` one you keep for long.
   */
  get(opts: WaitOptions = NO_OPTIONS): T {
    const first = this.tryGetOne();
    if (first !== undefined) return first[0];
    return this.blockUntil(() => this.tryGetOne(), H.PUT_N, H.GET_WAITS, opts, () => new Empty())[0];
  }

  getNowait(): T {
    return this.get({ block: false });
  }

  async getAsync(opts: WaitOptions = {}): Promise<T> {
    return (await this.waitUntil(() => this.tryGetOne(), H.PUT_N, H.GET_WAITS, opts, () => new Empty()))[0];
  }

  /** Takes up to `max` items; waits (per opts) only while the queue is empty. Raw items are views, as for get(). */
  getMany(max: number, opts: WaitOptions = {}): T[] {
    positiveInt(max, 'max', 1 << 24);
    return this.blockUntil(() => this.tryGet(max), H.PUT_N, H.GET_WAITS, opts, () => new Empty());
  }

  async getManyAsync(max: number, opts: WaitOptions = {}): Promise<T[]> {
    positiveInt(max, 'max', 1 << 24);
    return this.waitUntil(() => this.tryGet(max), H.PUT_N, H.GET_WAITS, opts, () => new Empty());
  }

  /**
   * Takes up to `max` raw items (Uint8Array puts) without an object per item: `onItem(bytes,
   * offset, length)` sees each item's bytes at bytes[offset, offset + length). `bytes` is
   * this thread's reused copy, valid only during the call: copy out what you keep. Stops
   * before an item that is not raw bytes, and throws NOT_RAW (taking nothing) when the next
   * item is one. Returns how many it took; waits (per opts) only while the queue is empty.
   * If `onItem` throws, the other items taken with it still get their call, then the first
   * error is thrown: nothing taken is dropped.
   */
  consumeRaw(max: number, onItem: RawItemHandler, opts: WaitOptions = {}): number {
    positiveInt(max, 'max', 1 << 24);
    checkHandler(onItem);
    return this.blockUntil(() => this.tryConsumeRaw(max, onItem), H.PUT_N, H.GET_WAITS, opts, () => new Empty());
  }

  async consumeRawAsync(max: number, onItem: RawItemHandler, opts: WaitOptions = {}): Promise<number> {
    positiveInt(max, 'max', 1 << 24);
    checkHandler(onItem);
    return this.waitUntil(() => this.tryConsumeRaw(max, onItem), H.PUT_N, H.GET_WAITS, opts, () => new Empty());
  }

  size(): number {
    return this.ring.size();
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
      totalPut: u(H.PUT_N),
      totalGot: u(H.GOT_N),
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

function checkHandler(fn: unknown): void {
  if (typeof fn !== 'function') throw new SharedQueueError('INVALID', `consumeRaw needs a function (bytes, offset, length) => void; got ${typeof fn}`);
}

function checkTimeout(t: unknown): number {
  if (typeof t !== 'number' || !(t >= 0)) throw new SharedQueueError('INVALID', `timeout must be ms >= 0; got ${String(t)}`);
  return t;
}
