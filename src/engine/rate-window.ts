/**
 * Fixed rate-limit windows (a queue's `rateLimit`, each group's `groupRateLimit`): a window
 * opens at the first claim after the previous one ended and admits `max` claims until
 * `durationMs` later. A job held back by a window stays queued (no attempt, no failure) and
 * waiting workers are woken when the window ends.
 */
export interface RateWindow {
  start: number;
  count: number;
}

/** The window in force at `now`: the one given if it has not ended, else a new empty one. */
export function openWindow(w: RateWindow | undefined, limit: { durationMs: number }, now: number): RateWindow {
  return w && now - w.start < limit.durationMs ? w : { start: now, count: 0 };
}

/**
 * A queue-wide limit at `now`: the window in force, how many more claims it admits, and when
 * it ends if it is full (waiters are woken then, not at their timeout); null when not full.
 */
export function queueWindow(stored: RateWindow, limit: { max: number; durationMs: number }, now: number): { window: RateWindow; room: number; fullUntil: number | null } {
  const window = openWindow(stored, limit, now);
  const room = limit.max - window.count;
  return { window, room, fullUntil: room <= 0 ? window.start + limit.durationMs : null };
}
