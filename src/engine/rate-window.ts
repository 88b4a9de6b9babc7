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
