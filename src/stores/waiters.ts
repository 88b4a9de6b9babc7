/**
 * In-process wake-ups for `Store.wait`: a waiter sleeps until work arrives in one of its
 * queues (notify), until a scheduled job there comes due (notifyAt), or until its timeout.
 * No polling: each waiter holds exactly one timer, on the store's clock.
 */
import { systemClock, type Clock, type Timer } from '../core/clock.ts';

interface Waiter {
  queues: Set<string>;
  deadline: number;
  timer: Timer;
  done: () => void;
}

export class Waiters {
  private waiters = new Set<Waiter>();
  private nextDue = new Map<string, number>();
  private readonly clock: Clock;

  constructor(clock: Clock = systemClock) {
    this.clock = clock;
  }

  wait(queues: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    const now = this.clock.now();
    let deadline = now + Math.max(0, timeoutMs);
    for (const q of queues) {
      const due = this.nextDue.get(q);
      if (due === undefined) continue;
      // A due time already past means work is ready now: wake at once (and only once).
      if (due <= now) this.nextDue.delete(q);
      deadline = Math.min(deadline, due);
    }
    return new Promise<void>((resolve) => {
      const w: Waiter = {
        queues: new Set(queues),
        deadline,
        timer: this.clock.setTimer(() => w.done(), deadline - now),
        done: () => {
          w.timer.cancel();
          this.waiters.delete(w);
          signal?.removeEventListener('abort', w.done);
          resolve();
        },
      };
      this.waiters.add(w);
      signal?.addEventListener('abort', w.done, { once: true });
    });
  }

  /** Work is ready in `queue` now. */
  notify(queue: string): void {
    for (const w of this.waiters) if (w.queues.has(queue)) w.done();
  }

  /** A job in `queue` comes due at `at`: wake its waiters then, not later. */
  notifyAt(queue: string, at: number): void {
    const known = this.nextDue.get(queue);
    if (known === undefined || at < known || known <= this.clock.now()) this.nextDue.set(queue, at);
    for (const w of this.waiters) {
      if (!w.queues.has(queue) || w.deadline <= at) continue;
      w.timer.cancel();
      w.deadline = at;
      w.timer = this.clock.setTimer(() => w.done(), at - this.clock.now());
    }
  }

  /** Wakes every waiter (any queue), e.g. on close or when another process may have written. */
  notifyAll(): void {
    for (const w of this.waiters) w.done();
  }

  closeAll(): void {
    this.notifyAll();
  }
}
