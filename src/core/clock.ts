/**
 * Time as a dependency. Everything that decides by the time of day or waits for job time
 * (delays, backoff, leases, heartbeats, retention, upkeep) reads and waits through a Clock,
 * so a test can move time forward instead of sleeping through it. Timers that guard I/O
 * (a Redis read watchdog, SQLite's cross-process poll) keep real time: they measure the
 * network and the disk, not the jobs.
 */

export interface Timer {
  cancel(): void;
  /** Lets the process exit while this timer is pending (real clock only). */
  unref(): Timer;
}

export interface Clock {
  /** Milliseconds since the epoch, like Date.now(). */
  now(): number;
  /** Calls fn once, ms from now on this clock. */
  setTimer(fn: () => void, ms: number): Timer;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, Math.max(0, ms));
    const timer: Timer = {
      cancel: () => clearTimeout(t),
      unref: () => {
        t.unref();
        return timer;
      },
    };
    return timer;
  },
};

/** Resolves after ms on this clock, or at once when the signal aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      timer.cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimer(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Calls fn every ms on this clock until the returned timer is canceled. */
export function every(clock: Clock, ms: number, fn: () => void): Timer {
  let stopped = false;
  let unref = false;
  let timer: Timer;
  const arm = () => {
    timer = clock.setTimer(tick, ms);
    if (unref) timer.unref();
  };
  const tick = () => {
    if (stopped) return;
    arm();
    fn();
  };
  arm();
  const handle: Timer = {
    cancel() {
      stopped = true;
      timer.cancel();
    },
    unref() {
      unref = true;
      timer.unref();
      return handle;
    },
  };
  return handle;
}

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when told. `advance(ms)` runs every timer that comes due on the
 * way, in time order, each at its own time, so code that re-arms a timer inside one
 * (a heartbeat) sees the times it would have seen in real life.
 */
export class TestClock implements Clock {
  private t: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): Timer {
    if (ms <= 0) {
      // Already due: fire soon, as a real timer would, without waiting for an advance.
      let canceled = false;
      setImmediate(() => canceled || fn());
      const timer: Timer = { cancel: () => void (canceled = true), unref: () => timer };
      return timer;
    }
    const p: Pending = { at: this.t + ms, seq: ++this.seq, fn };
    this.pending.push(p);
    const timer: Timer = {
      cancel: () => void (this.pending = this.pending.filter((x) => x !== p)),
      unref: () => timer,
    };
    return timer;
  }

  /** Moves time forward by ms, firing due timers in order. */
  advance(ms: number): void {
    this.set(this.t + ms);
  }

  /** Moves time to `at` (never backwards), firing due timers in order. */
  set(at: number): void {
    if (at < this.t) throw new RangeError('a TestClock does not go backwards');
    for (;;) {
      let next: Pending | null = null;
      for (const p of this.pending) if (p.at <= at && (next === null || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      if (next === null) break;
      this.pending = this.pending.filter((x) => x !== next);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = at;
  }

  /** Timers not yet fired (for tests that check nothing is left waiting). */
  get timers(): number {
    return this.pending.length;
  }
}
