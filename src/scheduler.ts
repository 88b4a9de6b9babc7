/**
 * Adds the jobs of due schedules: run by the elected Maintainer each round, so one process
 * at a time does it. Exactly once per tick however processes race or die: a run's job id is
 * derived from the schedule and the tick (a second add of it is a no-op), and a round's
 * progress is recorded with a compare-and-set (Store.advanceSchedule).
 */
import { ConnectionError, QueueFullError } from './core/errors.ts';
import { buildNewJob } from './core/options.ts';
import { progressOf, type Schedule } from './core/schedule.ts';
import { isFinished } from './core/states.ts';
import { planTicks, tickJobId } from './engine/schedule.ts';
import type { NewJob, Store } from './stores/store.ts';

export interface ScheduleRound {
  /** Jobs added (runs). */
  runs: number;
  /** Ticks skipped (overlap, missed while nothing ran, full queue). */
  skips: number;
}

/**
 * One round over every schedule due at `now`; a tick older than graceMs counts as missed.
 * One schedule's failure (say, a job its spec can no longer make) is reported and does not
 * stop the others; a store that cannot be reached ends the round.
 */
export async function runSchedules(store: Store, now: number, graceMs: number, onError: (err: Error) => void = () => {}): Promise<ScheduleRound> {
  const round: ScheduleRound = { runs: 0, skips: 0 };
  for (const s of await store.schedules()) {
    if (s.paused || s.nextRunAt === null || s.nextRunAt > now) continue;
    try {
      const r = await runOne(store, s, now, graceMs);
      round.runs += r.runs;
      round.skips += r.skips;
    } catch (err) {
      if (err instanceof ConnectionError) throw err;
      onError(new Error(`schedule ${s.id} of queue ${s.queue}: ${(err as Error).message}`, { cause: err }));
    }
  }
  return round;
}

async function runOne(store: Store, s: Schedule, now: number, graceMs: number): Promise<ScheduleRound> {
  const plan = planTicks(s, now, graceMs);
  let run = plan.run;
  let skips = plan.dropped;
  if (s.overlap === 'skip' && run.length > 0) {
    const last = s.lastJobId === null ? null : await store.get(s.lastJobId);
    // One run at most while the previous one is unfinished: none.
    const room = last !== null && !isFinished(last.state) ? 0 : 1;
    skips += run.length - room;
    run = room === 0 ? [] : run.slice(-1);
  }
  const jobs: NewJob[] = run.map((tick) => ({ ...buildNewJob(s.queue, s.name, s.data, { ...s.opts, jobId: tickJobId(s, tick) }, {}, undefined, now), scheduleId: s.id }));
  if (jobs.length > 0) {
    try {
      await store.enqueue(jobs);
    } catch (err) {
      // A full queue refuses this round's runs: they count as skipped, the schedule goes on.
      if (!(err instanceof QueueFullError)) throw err;
      skips += jobs.length;
      run = [];
      jobs.length = 0;
    }
  }
  const last = jobs[jobs.length - 1];
  const next = {
    nextRunAt: plan.nextRunAt,
    runs: s.runs + run.length,
    skips: s.skips + skips,
    lastRunAt: run.length > 0 ? run[run.length - 1] : s.lastRunAt,
    lastJobId: last ? last.id : s.lastJobId,
  };
  // Lost to another process's round: its progress stands, and the job ids made both rounds add the same jobs.
  const won = await store.advanceSchedule(s.queue, s.id, progressOf(s), next);
  return won ? { runs: run.length, skips } : { runs: 0, skips: 0 };
}
