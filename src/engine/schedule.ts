/**
 * When a schedule runs: its next tick after a time, and what to do with the ticks that
 * came due since upkeep last looked (run, or drop those missed while nothing ran). Pure;
 * the scheduler (src/scheduler.ts) applies the plan.
 */
import { parseCron, type Schedule } from '../core/schedule.ts';

/** Most ticks one upkeep round handles per schedule (catchUp 'all' after a long outage goes on next round). */
export const MAX_TICKS_PER_ROUND = 1000;

/** The first tick strictly after `after`, within the schedule's window and limit; null when it has ended. */
export function nextTick(s: Pick<Schedule, 'cron' | 'tz' | 'every' | 'startAt' | 'endAt' | 'limit' | 'runs'>, after: number, runsSoFar = s.runs): number | null {
  if (s.limit !== null && runsSoFar >= s.limit) return null;
  const from = s.startAt !== null && s.startAt > after ? s.startAt - 1 : after;
  let t: number | null;
  if (s.every !== null) {
    // Multiples of `every` since startAt (or the epoch): the same ticks in every process.
    const anchor = s.startAt ?? 0;
    t = anchor + (Math.floor((from - anchor) / s.every) + 1) * s.every;
  } else {
    const next = parseCron(s.cron!, s.tz).nextRun(new Date(from));
    t = next ? next.getTime() : null;
  }
  return t !== null && s.endAt !== null && t > s.endAt ? null : t;
}

export interface TickPlan {
  /** Ticks to add a job for, oldest first. */
  run: number[];
  /** Ticks dropped: missed while nothing ran (catchUp), or beyond `limit`. */
  dropped: number;
  /** The schedule's next tick after this round (null: ended). */
  nextRunAt: number | null;
}

/**
 * The ticks due at `now`. A tick older than `graceMs` was missed (no process did upkeep in
 * time): catchUp 'all' runs each, 'one' runs the newest of them unless a tick on time
 * runs anyway, 'none' drops them.
 */
export function planTicks(s: Schedule, now: number, graceMs: number): TickPlan {
  const due: number[] = [];
  let t = s.nextRunAt;
  let runs = s.runs;
  while (t !== null && t <= now && due.length < MAX_TICKS_PER_ROUND) {
    due.push(t);
    t = nextTick(s, t, ++runs);
  }
  const onTime = due.filter((x) => now - x <= graceMs);
  const missed = due.filter((x) => now - x > graceMs);
  let run: number[];
  if (s.catchUp === 'all') run = due;
  else if (s.catchUp === 'one') run = onTime.length > 0 ? onTime : missed.slice(-1);
  else run = onTime;
  // Runs count toward `limit`; dropped ticks do not, so the next tick is computed from the runs kept.
  const kept = s.runs + run.length;
  const nextRunAt = due.length === 0 ? s.nextRunAt : nextTick(s, due[due.length - 1], kept);
  return { run, dropped: due.length - run.length, nextRunAt };
}

/** A run's job id: the same in every process, so two racing schedulers add one job. */
export function tickJobId(s: Pick<Schedule, 'queue' | 'id'>, tick: number): string {
  return `schedule:${s.queue}:${s.id}:${tick}`;
}

/**
 * A schedule given again (every process may call schedule() at start-up): progress is kept
 * while its timing is unchanged, so a restart neither repeats nor skips a run; a new timing,
 * or a resume, starts from the next tick after now (runs missed while paused are not made up).
 */
export function mergeSchedule(existing: Schedule | null, fresh: Schedule, now: number): Schedule {
  if (existing === null) return { ...fresh, nextRunAt: nextTick(fresh, now - 1) };
  const sameTiming =
    existing.cron === fresh.cron && existing.tz === fresh.tz && existing.every === fresh.every && existing.startAt === fresh.startAt && existing.endAt === fresh.endAt && existing.limit === fresh.limit;
  const progress = { runs: existing.runs, skips: existing.skips, lastRunAt: existing.lastRunAt, lastJobId: existing.lastJobId };
  const keepNext = sameTiming && existing.paused === fresh.paused;
  const merged = { ...fresh, ...progress, createdAt: existing.createdAt, updatedAt: now, nextRunAt: existing.nextRunAt };
  if (!keepNext) merged.nextRunAt = nextTick(merged, now - 1);
  return merged;
}

/** The next `n` run times from now (for listings); fewer when the schedule ends. */
export function upcoming(s: Schedule, n: number): number[] {
  const out: number[] = [];
  let t = s.nextRunAt;
  let runs = s.runs;
  while (t !== null && out.length < n) {
    out.push(t);
    t = nextTick(s, t, ++runs);
  }
  return out;
}
