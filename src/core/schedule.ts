/**
 * Schedules: recurring jobs, by a cron expression in a time zone or every N ms. What a
 * user gives (`ScheduleSpec`) is validated into a `Schedule`, which the store keeps with
 * its progress (next run, runs, skips, last job).
 */
import { Cron } from 'croner';
import { ValidationError } from './errors.ts';
import { buildNewJob, describe, validateJobId, validateJobName, validateQueueName, type JobOptions } from './options.ts';

export type OverlapPolicy = 'allow' | 'skip';
export type CatchUpPolicy = 'none' | 'one' | 'all';

export interface ScheduleSpec {
  /** A cron expression of 5 fields (minute first) or 6 (seconds first). Give this or `every`. */
  cron?: string;
  /** IANA time zone the cron expression is read in (default 'UTC'). */
  tz?: string;
  /** Run every this many ms (at least 1000), on multiples of it since the epoch or since `startAt`. */
  every?: number;
  /** The job name each run adds. */
  name: string;
  data?: unknown;
  /** Options of each job (not jobId, delay, runAt, dependsOn or start: the schedule sets those). */
  opts?: JobOptions;
  /** No run before this time (ms since the epoch, or a Date). */
  startAt?: number | Date;
  /** No run after this time. */
  endAt?: number | Date;
  /** Runs in all; the schedule ends after that many. */
  limit?: number;
  /** 'skip': a run whose previous job is still unfinished is skipped (counted in `skips`). Default 'allow'. */
  overlap?: OverlapPolicy;
  /** Runs missed while no process did upkeep: 'none' dropped, 'one' run once, 'all' each run. Default 'one'. */
  catchUp?: CatchUpPolicy;
  paused?: boolean;
}

/** What running a schedule changes; the rest is its spec. */
export interface ScheduleProgress {
  nextRunAt: number | null;
  runs: number;
  skips: number;
  lastRunAt: number | null;
  lastJobId: string | null;
}

export function progressOf(s: ScheduleProgress): ScheduleProgress {
  return { nextRunAt: s.nextRunAt, runs: s.runs, skips: s.skips, lastRunAt: s.lastRunAt, lastJobId: s.lastJobId };
}

export function sameProgress(a: ScheduleProgress, b: ScheduleProgress): boolean {
  return a.nextRunAt === b.nextRunAt && a.runs === b.runs && a.skips === b.skips && a.lastRunAt === b.lastRunAt && a.lastJobId === b.lastJobId;
}

/** Progress as JSON with a fixed key order: stores compare it as a string (compare-and-set). */
export function progressJson(p: ScheduleProgress): string {
  return JSON.stringify(progressOf(p));
}

/** A schedule as two JSON texts: its spec, and its progress (progressJson). */
export function splitSchedule(s: Schedule): { spec: string; progress: string } {
  const { nextRunAt: _n, runs: _r, skips: _s, lastRunAt: _l, lastJobId: _j, ...spec } = s;
  return { spec: JSON.stringify(spec), progress: progressJson(s) };
}

export function joinSchedule(spec: string, progress: string): Schedule {
  return { ...(JSON.parse(spec) as Omit<Schedule, keyof ScheduleProgress>), ...(JSON.parse(progress) as ScheduleProgress) };
}

export interface Schedule extends ScheduleProgress {
  id: string;
  queue: string;
  cron: string | null;
  tz: string;
  every: number | null;
  name: string;
  data: unknown;
  opts: JobOptions;
  startAt: number | null;
  endAt: number | null;
  limit: number | null;
  overlap: OverlapPolicy;
  catchUp: CatchUpPolicy;
  paused: boolean;
  createdAt: number;
  updatedAt: number;
}

const SPEC_KEYS = new Set(['cron', 'tz', 'every', 'name', 'data', 'opts', 'startAt', 'endAt', 'limit', 'overlap', 'catchUp', 'paused']);
const SET_BY_SCHEDULE = ['jobId', 'delay', 'runAt', 'dependsOn', 'start'] as const;
export const MIN_EVERY_MS = 1000;

function time(v: unknown, field: string): number | null {
  if (v === undefined || v === null) return null;
  const t = v instanceof Date ? v.getTime() : v;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) throw new ValidationError(`${field} must be a time (ms since the epoch or a Date); got ${describe(v)}`, field);
  return Math.round(t);
}

const parsed = new Map<string, Cron>();

/** A cron expression checked now, so a bad one is refused at schedule time, not at its first run. */
export function parseCron(expr: string, tz: string): Cron {
  const key = `${tz}\n${expr}`;
  const known = parsed.get(key);
  if (known) return known;
  let cron: Cron;
  try {
    cron = new Cron(expr, { timezone: tz, paused: true, mode: '5-or-6-parts' });
    cron.nextRun();
  } catch (err) {
    const msg = (err as Error).message;
    if (/timezone/i.test(msg)) throw new ValidationError(`tz "${tz}" is not a known IANA time zone (e.g. "Europe/Berlin")`, 'tz');
    throw new ValidationError(`cron "${expr}" is not a valid cron expression of 5 or 6 fields: ${msg.replace(/^CronPattern: /, '')}`, 'cron');
  }
  if (parsed.size > 1000) parsed.clear();
  parsed.set(key, cron);
  return cron;
}

/** Validates a spec into a schedule record with no progress yet. Throws ValidationError naming the field. */
export function buildSchedule(queue: string, id: unknown, spec: ScheduleSpec, now: number): Schedule {
  validateQueueName(queue);
  validateJobId(id, 'id');
  if (spec === null || typeof spec !== 'object') throw new ValidationError('a schedule spec must be an object', 'spec');
  for (const k of Object.keys(spec)) if (!SPEC_KEYS.has(k)) throw new ValidationError(`unknown schedule field "${k}"`, k);
  const hasCron = spec.cron !== undefined;
  const hasEvery = spec.every !== undefined;
  if (hasCron === hasEvery) throw new ValidationError('give either cron or every (not both, not neither)', hasCron ? 'every' : 'cron');
  const tz = spec.tz ?? 'UTC';
  if (typeof tz !== 'string' || tz === '') throw new ValidationError('tz must be an IANA time zone name', 'tz');
  if (hasCron) {
    if (typeof spec.cron !== 'string' || ![5, 6].includes(spec.cron.trim().split(/\s+/).length)) {
      throw new ValidationError(`cron must be an expression of 5 or 6 fields; got ${describe(spec.cron)}`, 'cron');
    }
    parseCron(spec.cron, tz);
  } else {
    if (spec.tz !== undefined) throw new ValidationError('tz applies to cron schedules only', 'tz');
    if (typeof spec.every !== 'number' || !Number.isInteger(spec.every) || spec.every < MIN_EVERY_MS) {
      throw new ValidationError(`every must be a whole number of ms, at least ${MIN_EVERY_MS}; got ${describe(spec.every)}`, 'every');
    }
  }
  validateJobName(spec.name);
  const opts = spec.opts ?? {};
  if (opts === null || typeof opts !== 'object') throw new ValidationError('opts must be an object of job options', 'opts');
  for (const k of SET_BY_SCHEDULE) if (opts[k] !== undefined) throw new ValidationError(`opts.${k} is set by the schedule and cannot be given`, `opts.${k}`);
  // The jobs' options and data checked once, as every run's job will be.
  buildNewJob(queue, spec.name, spec.data, opts);
  const startAt = time(spec.startAt, 'startAt');
  const endAt = time(spec.endAt, 'endAt');
  if (startAt !== null && endAt !== null && endAt < startAt) throw new ValidationError('endAt is before startAt', 'endAt');
  if (spec.limit !== undefined && (!Number.isInteger(spec.limit) || spec.limit < 1)) throw new ValidationError(`limit must be a positive integer; got ${describe(spec.limit)}`, 'limit');
  if (spec.overlap !== undefined && spec.overlap !== 'allow' && spec.overlap !== 'skip') throw new ValidationError('overlap must be "allow" or "skip"', 'overlap');
  if (spec.catchUp !== undefined && !['none', 'one', 'all'].includes(spec.catchUp)) throw new ValidationError('catchUp must be "none", "one" or "all"', 'catchUp');
  if (spec.paused !== undefined && typeof spec.paused !== 'boolean') throw new ValidationError('paused must be true or false', 'paused');
  return {
    id: id as string,
    queue,
    cron: hasCron ? spec.cron!.trim() : null,
    tz,
    every: hasEvery ? spec.every! : null,
    name: spec.name,
    data: spec.data === undefined ? null : spec.data,
    opts,
    startAt,
    endAt,
    limit: spec.limit ?? null,
    overlap: spec.overlap ?? 'allow',
    catchUp: spec.catchUp ?? 'one',
    paused: spec.paused ?? false,
    nextRunAt: null,
    runs: 0,
    skips: 0,
    lastRunAt: null,
    lastJobId: null,
    createdAt: now,
    updatedAt: now,
  };
}
