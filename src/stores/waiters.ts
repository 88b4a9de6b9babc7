/**
 * In-process wake-ups for `Store.wait`: a waiter sleeps until work arrives in one of its
 * queues (notify), until a scheduled job there comes due (notifyAt), or until its timeout.
 * No polling: each waiter holds exactly one timer.
 */
interface Waiter {
  queues: Set<string>;
  deadline: number;
  timer: ReturnType<typeof setTimeout>;
  done: () => void;
}

export class Waiters {
  private waiters = new Set<Waiter>();
  private nextDue = new Map<string, number>();

  wait(queues: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    const now = Date.now();
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
        timer: setTimeout(() => w.done(), Math.max(0, deadline - now)),
        done: () => {
          clearTimeout(w.timer);
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
    if (known === undefined || at < known || known <= Date.now()) this.nextDue.set(queue, at);
    for (const w of this.waiters) {
      if (!w.queues.has(queue) || w.deadline <= at) continue;
      clearTimeout(w.timer);
      w.deadline = at;
      w.timer = setTimeout(() => w.done(), Math.max(0, at - Date.now()));
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
