/**
 * wait() and subscribe() over ONE blocking connection per store.
 *
 * A single blocking XREAD watches, at once: the wake-up marker stream of every queue some
 * wait() caller sleeps on, the event stream while someone subscribes, and a private stream
 * this store writes to when the set of watched keys must change. Markers are streams (not
 * lists for BLPOP) precisely so that one command can watch them together with the event
 * stream: a Worker, which both waits and subscribes, then needs two connections in all.
 *
 * No wake-up is lost: a claim returns the id of each queue's newest marker, and a waiter
 * reads markers after that id, so work announced between a claim and the next wait wakes
 * it at once. Reading a stream does not consume it, so every idle worker on a queue wakes
 * (like LISTEN/NOTIFY), and one that wakes but is busy takes nothing from the others.
 *
 * Delayed jobs: the claim also returns each queue's next due time, and a waiter's own timer
 * fires then. After a Redis restart ioredis re-sends the blocked XREAD by itself; a
 * watchdog reconnects a connection whose read outlives its block time (a dead peer that
 * sent no FIN would otherwise stall wait() forever: the classic "workers stop after a
 * reconnect" failure).
 */
import type { RedisClient } from './connection.ts';
import type { JobEvent, JobEventType } from '../store.ts';
import { CONTROL_EVENTS } from './lua/header.ts';
import type { Clock } from '../../core/clock.ts';
import { Waiters } from '../waiters.ts';
import { compareIds, fieldsToEvents, maxId } from './codec.ts';
import type { Keys } from './keys.ts';

/** (queue, newest marker id, next due ms or '') triples, as claim and peek return them. */
export type WakeInfo = string[];

export interface WakeupDeps {
  keys: Keys;
  storeId: string;
  /** The command connection: peeks and interrupts go through it, in order with claims. */
  command: RedisClient;
  /** Opens the blocking connection on first use. */
  openBlocking(): RedisClient;
  peek(queues: string[]): Promise<WakeInfo>;
  onError(err: unknown): void;
  /** Job time: due times and wait() timeouts (the read watchdog keeps real time). */
  clock: Clock;
  /** Jobs handed to this store's parked workers (handoffs.ts): read once `used`. */
  hand: { used: boolean; receive(fields: string[]): string; waiting(queues: string[]): boolean };
}

interface Listener {
  fn: (e: JobEvent) => void;
  /** The stream it reads: the event stream, or the control stream when that has all it needs. */
  key: string;
  /** Events after this stream id reach the listener; null until it is known. */
  from: string | null;
  buffer: [string, JobEvent][];
}

/** Longest single block: a health bound on the connection, not a polling interval. */
const BLOCK_MS = 10_000;
const WATCHDOG_GRACE_MS = 5_000;
const READ_COUNT = 1000;

export class Wakeups {
  private readonly deps: WakeupDeps;
  private readonly markerPrefix: string;
  private conn: RedisClient | null = null;
  /**
   * Newest marker id this process has acted on (claimed after, or was woken by). Shared by
   * all wait() callers of the store: a marker wakes every caller waiting when it is read,
   * and one that starts waiting later is not woken again by the same marker (so a caller
   * that waits without claiming cannot spin).
   */
  private readonly seen = new Map<string, string>();
  /** Newest marker id read from Redis. */
  private readonly latest = new Map<string, string>();
  private readonly due = new Map<string, number>();
  /** Timers, aborts and per-queue wake-ups of the wait() callers. */
  private readonly waiters: Waiters;
  /** How many callers wait on each queue now. */
  private readonly waited = new Map<string, number>();
  /**
   * Every queue waited on so far: the marker streams to read. Kept after its waiters go, so
   * a worker that waits after each job does not interrupt and restart the blocking read
   * each time (two commands and a read per job); the read returns on such markers anyway
   * only along with the events a Worker subscribes to.
   */
  private readonly watched = new Set<string>();
  private readonly listeners = new Set<Listener>();
  /** Read position in each event stream some listener reads (events, control). */
  private readonly streamFrom = new Map<string, string>();
  private running = false;
  /** Keys of the read in flight (null when none is). */
  private inflight: Set<string> | null = null;
  private wakeSeq = 0;
  /** The last hand stream entry read (the stream is this store's own: it starts empty). */
  private handFrom = '0-0';
  private closed = false;
  private watchdog: ReturnType<typeof setTimeout> | null = null;

  constructor(deps: WakeupDeps) {
    this.deps = deps;
    this.waiters = new Waiters(deps.clock);
    this.markerPrefix = deps.keys.marker('');
  }

  /**
   * Whether nothing was announced on these queues after the marker ids a claim returned
   * (`marks`, as in WakeInfo). What a read has not brought yet is not known here; the
   * caller's next wait() sees it.
   */
  quietSince(queues: string[], marks: ReadonlyMap<string, string>): boolean {
    for (const q of queues) {
      const mark = marks.get(q);
      if (mark === undefined) return false;
      const latest = this.latest.get(q);
      if (latest !== undefined && compareIds(latest, mark) > 0) return false;
    }
    return true;
  }

  /** Records what a claim (or peek) saw, atomically with its own reads. */
  note(info: WakeInfo): void {
    for (let i = 0; i + 2 < info.length; i += 3) {
      const [queue, marker, due] = [info[i], info[i + 1], info[i + 2]];
      this.seen.set(queue, maxId(this.seen.get(queue), marker));
      if (due === '') this.due.delete(queue);
      else {
        this.due.set(queue, Number(due));
        this.waiters.notifyAt(queue, Number(due));
      }
    }
  }

  async wait(queues: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return;
    const start = this.deps.clock.now();
    const unknown = queues.filter((q) => !this.seen.has(q));
    if (unknown.length > 0) {
      try {
        this.note(await this.deps.peek(unknown));
      } catch (err) {
        // Redis is unreachable: sleep out the timeout rather than fail the caller.
        this.deps.onError(err);
      }
    }
    if (this.closed || signal?.aborted) return;
    // Jobs handed over before this wait began: a hand-over that took every ready job writes
    // no marker, so nothing else would end the wait.
    if (this.deps.hand.waiting(queues)) return;
    const now = this.deps.clock.now();
    for (const q of queues) {
      // A due time already past, or a marker read but not yet acted on: work may be ready.
      const due = this.due.get(q);
      if (due !== undefined && due <= now) {
        this.due.delete(q);
        return;
      }
      const latest = this.latest.get(q);
      const seen = this.seen.get(q);
      if (latest !== undefined && (seen === undefined || compareIds(latest, seen) > 0)) {
        this.seen.set(q, latest);
        return;
      }
    }
    for (const q of queues) {
      this.waited.set(q, (this.waited.get(q) ?? 0) + 1);
      this.watched.add(q);
    }
    this.ensureReading();
    try {
      await this.waiters.wait(queues, Math.max(0, start + timeoutMs - now), signal);
    } finally {
      for (const q of queues) {
        const n = (this.waited.get(q) ?? 1) - 1;
        if (n <= 0) this.waited.delete(q);
        else this.waited.set(q, n);
      }
    }
  }

  /**
   * A listener that needs only cancels and removals (a Worker: markers and hand-overs tell
   * it of new work) reads the control stream, which no other job event wakes.
   */
  subscribe(fn: (e: JobEvent) => void, types?: readonly JobEventType[]): () => void {
    const control = types !== undefined && types.every((t) => (CONTROL_EVENTS as readonly string[]).includes(t));
    const l: Listener = { fn, key: control ? this.deps.keys.control : this.deps.keys.events, from: null, buffer: [] };
    this.listeners.add(l);
    void this.startListener(l);
    return () => {
      this.listeners.delete(l);
    };
  }

  private async startListener(l: Listener): Promise<void> {
    let backoff = 50;
    // The starting id is read on the command connection, so it is ordered with every write
    // this process makes after subscribe() returned: none of their events is missed.
    while (!this.closed && this.listeners.has(l)) {
      try {
        const last = (await this.deps.command.xrevrange(l.key, '+', '-', 'COUNT', 1)) as [string, string[]][];
        l.from = last[0]?.[0] ?? '0-0';
        break;
      } catch (err) {
        this.deps.onError(err);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(2_000, backoff * 2);
      }
    }
    if (l.from === null || !this.listeners.has(l)) return;
    const othersReading = [...this.listeners].some((o) => o !== l && o.key === l.key && o.from !== null);
    // Move the read position up to this listener's start when no one needs what lies
    // between, but never back: entries past l.from that a read (still in flight for a
    // listener gone since) already returned are in l.buffer, and reading them again would
    // deliver them twice.
    const from = this.streamFrom.get(l.key);
    if (from === undefined || (!othersReading && compareIds(from, l.from) < 0)) this.streamFrom.set(l.key, l.from);
    const buffered = l.buffer;
    l.buffer = [];
    for (const [id, e] of buffered) if (compareIds(id, l.from) > 0) deliver(l, e);
    this.ensureReading();
  }

  /** Starts the read loop, or interrupts the read in flight if it misses a key we need. */
  ensureReading(): void {
    if (this.closed) return;
    if (!this.running) {
      this.running = true;
      void this.loop();
      return;
    }
    if (this.inflight === null) return;
    const want = this.wantedKeys();
    for (const k of want.keys) {
      if (!this.inflight.has(k)) {
        this.interrupt();
        return;
      }
    }
  }

  private wantedKeys(): { keys: string[]; ids: string[] } {
    const keys: string[] = [];
    const ids: string[] = [];
    for (const [key, from] of this.streamFrom) {
      if (![...this.listeners].some((l) => l.key === key && l.from !== null)) continue;
      keys.push(key);
      ids.push(from);
    }
    for (const q of this.watched) {
      keys.push(this.deps.keys.marker(q));
      ids.push(maxId(this.seen.get(q), this.latest.get(q)));
    }
    if (this.deps.hand.used) {
      keys.push(this.deps.keys.hand(this.deps.storeId));
      ids.push(this.handFrom);
    }
    return { keys, ids };
  }

  private interrupt(): void {
    this.wakeSeq++;
    const key = this.deps.keys.wake(this.deps.storeId);
    this.deps.command
      .multi()
      .xadd(key, 'MAXLEN', '1', `0-${this.wakeSeq}`, 'w', '1')
      .pexpire(key, 60_000)
      .exec()
      .catch((err) => this.deps.onError(err));
  }

  private async loop(): Promise<void> {
    let backoff = 0;
    while (!this.closed) {
      const { keys, ids } = this.wantedKeys();
      if (keys.length === 0) break;
      keys.push(this.deps.keys.wake(this.deps.storeId));
      ids.push(`0-${this.wakeSeq}`);
      const conn = this.connection();
      this.inflight = new Set(keys);
      this.armWatchdog();
      let reply: unknown;
      try {
        reply = await conn.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...ids);
        backoff = 0;
      } catch (err) {
        if (this.closed) break;
        this.deps.onError(err);
        backoff = Math.min(2_000, backoff ? backoff * 2 : 50);
        await new Promise((r) => setTimeout(r, backoff));
        continue;
      } finally {
        if (this.watchdog) clearTimeout(this.watchdog);
        this.watchdog = null;
        this.inflight = null;
      }
      // A woken waiter (a worker with a job handed to it) goes first: re-sending the read
      // is a socket write that would otherwise run before the waiter's continuation (~80 µs
      // of W4's hand-over-to-handler time on this VM).
      if (reply && this.handle(reply)) await new Promise((r) => setImmediate(r));
    }
    this.running = false;
  }

  private connection(): RedisClient {
    if (!this.conn) {
      const conn = this.deps.openBlocking();
      // A read re-sent on a new connection blocks afresh: so does its watchdog.
      conn.on('ready', () => {
        if (this.inflight) this.armWatchdog();
      });
      this.conn = conn;
    }
    return this.conn;
  }

  /** Reconnects a blocking connection whose read outlived its block time: a dead peer. */
  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.watchdog = null;
      if (this.conn?.status === 'ready') this.conn.disconnect(true);
      else this.armWatchdog();
    }, BLOCK_MS + WATCHDOG_GRACE_MS);
  }

  /** Delivers a read's entries; true when it woke waiters. */
  private handle(reply: unknown): boolean {
    let woke = false;
    for (const [key, entries] of streamsOf(reply)) {
      if (entries.length === 0) continue;
      if (key === this.deps.keys.events || key === this.deps.keys.control) {
        for (const [id, fields] of entries) {
          this.streamFrom.set(key, id);
          for (const e of fieldsToEvents(fields)) {
            for (const l of this.listeners) {
              if (l.key !== key) continue;
              if (l.from === null) l.buffer.push([id, e]);
              else if (compareIds(id, l.from) > 0) deliver(l, e);
            }
          }
        }
      } else if (key === this.deps.keys.hand(this.deps.storeId)) {
        for (const [id, fields] of entries) {
          this.handFrom = id;
          this.waiters.notify(this.deps.hand.receive(fields));
          woke = true;
        }
      } else if (key.startsWith(this.markerPrefix)) {
        const queue = key.slice(this.markerPrefix.length);
        const last = entries[entries.length - 1][0];
        this.latest.set(queue, maxId(this.latest.get(queue), last));
        if (this.waited.has(queue)) {
          this.seen.set(queue, maxId(this.seen.get(queue), last));
          this.waiters.notify(queue);
          woke = true;
        }
      }
    }
    return woke;
  }

  close(): void {
    this.closed = true;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.waiters.closeAll();
    this.listeners.clear();
    this.conn?.disconnect();
    this.conn = null;
  }
}

function deliver(l: Listener, e: JobEvent): void {
  try {
    l.fn(e);
  } catch {
    // A listener's failure must not break the store.
  }
}

type Entries = [string, string[]][];

/** XREAD replies come as [[key, entries]...] (RESP2 shape) or, from RESP3 maps, flat. */
function streamsOf(reply: unknown): [string, Entries][] {
  if (!Array.isArray(reply)) return [];
  if (reply.length > 0 && Array.isArray(reply[0])) return reply as [string, Entries][];
  const out: [string, Entries][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) out.push([String(reply[i]), reply[i + 1] as Entries]);
  return out;
}
