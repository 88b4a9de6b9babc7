import { ValidationError } from './errors.ts';
import type { Backoff, DedupeMode, DedupeSpec, NewJob, ParentFailurePolicy } from './job.ts';
import { newJobId } from './job-id.ts';

/** Options a producer may give a job. Durations are milliseconds. */
export interface JobOptions {
  /** Your own id. Adding a job whose id exists is a no-op that returns the existing job (dedupe). */
  jobId?: string;
  /** Higher runs first; integer from -1000 to 1000; default 0. */
  priority?: number;
  /** Run no earlier than this many ms from now. */
  delay?: number;
  /** Run no earlier than this time (Date, epoch ms or ISO string). */
  runAt?: Date | number | string;
  /** false: add as `pending`; it runs only after `start()`/`promote()` (a job manager's add_job). */
  start?: boolean;
  /** Total attempts including the first; default 1 (no retry). */
  attempts?: number;
  /** Delay between attempts: ms (fixed), a Backoff object, or a list of intervals (RQ's Retry(interval=[...])). */
  backoff?: number | number[] | Backoff;
  /** Fail the attempt when the handler runs longer than this. */
  timeout?: number;
  /** Ids of jobs that must complete first. */
  dependsOn?: string | string[];
  /** When a dependency fails or is canceled: fail this job too (default) or run it anyway. */
  onParentFailure?: ParentFailurePolicy;
  /** Jobs of one group never run more than the queue's group concurrency at once. */
  group?: string;
  /** Keep the completed job this long, then remove it (RQ's result_ttl). */
  resultTtl?: number;
  /** Keep the failed job this long, then remove it (RQ's failure_ttl). */
  failureTtl?: number;
  /** Not started within this many ms of the add: the job ends canceled, message "expired" (never run, not failed). */
  expiresIn?: number;
  /** Not started by this time (Date, epoch ms or ISO string): canceled as "expired". */
  expiresAt?: Date | number | string;
  /**
   * Adds the job only if no job holds the same key in this queue; otherwise answers with that
   * job and `duplicate: true`. `mode`: 'unfinished' (default: while it waits or runs),
   * 'waiting' (until it starts), 'window' (for `ttlMs` after the add).
   */
  dedupe?: { key: string; mode?: DedupeMode; ttlMs?: number };
  /**
   * Trailing debounce: the job runs `delayMs` after the last add with this key. Adding again
   * while the job still waits for its run time replaces its data and pushes the run time,
   * answering with the same job and `debounced: true`.
   */
  debounce?: { key: string; delayMs: number };
}

export interface ValidateLimits {
  /** Largest data accepted, in bytes of JSON. */
  maxDataBytes: number;
}

export const DEFAULT_LIMITS: ValidateLimits = { maxDataBytes: 1024 * 1024 };

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.:@/-]{0,127}$/;
// eslint-disable-next-line no-control-regex
const ID_FORBIDDEN = /[\s\u0000-\u001f\u007f{}]/;
const MAX_TTL = 10 * 365 * 24 * 3600 * 1000;

/**
 * Names that are JavaScript's own object keys: as a queue or job name they would vanish
 * from (or poison) every object keyed by name, in this process or a client's.
 */
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);

function reserved(name: string, field: string): void {
  if (RESERVED.has(name)) throw new ValidationError(`${field} "${name}" is reserved (__proto__, constructor and prototype cannot name a queue or a job type)`, field);
}

export function validateQueueName(queue: unknown, field = 'queue'): string {
  if (typeof queue === 'string') reserved(queue, field);
  if (typeof queue !== 'string' || !NAME_RE.test(queue)) {
    throw new ValidationError(
      `${field} must be 1-128 characters of letters, digits and _ . : @ / - (starting with a letter, digit or _); got ${describe(queue)}`,
      field,
    );
  }
  return queue;
}

export function validateJobName(name: unknown): string {
  if (typeof name === 'string') reserved(name, 'name');
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new ValidationError(
      `job name must be 1-128 characters of letters, digits and _ . : @ / - (starting with a letter, digit or _); got ${describe(name)}`,
      'name',
    );
  }
  return name;
}

export function validateJobId(id: unknown, field = 'jobId'): string {
  // Unpaired surrogates: no UTF-8 form, so PostgreSQL refuses them and other stores would keep a different string.
  if (typeof id !== 'string' || id.length === 0 || id.length > 256 || ID_FORBIDDEN.test(id) || !id.isWellFormed()) {
    throw new ValidationError(`${field} must be a string of 1-256 characters without spaces, control characters, braces or unpaired surrogates; got ${describe(id)}`, field);
  }
  return id;
}

function int(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`${field} must be an integer from ${min} to ${max}; got ${describe(value)}`, field);
  }
  return value;
}

function duration(value: unknown, field: string, max = MAX_TTL): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new ValidationError(`${field} must be a number of milliseconds from 0 to ${max}; got ${describe(value)}`, field);
  }
  return Math.round(value);
}

function jitter(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new ValidationError(`backoff.jitter must be a number from 0 to 1; got ${describe(value)}`, 'backoff.jitter');
  }
  return value;
}

export function validateBackoff(value: unknown): Backoff | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') return { type: 'fixed', delay: duration(value, 'backoff') };
  if (Array.isArray(value)) {
    if (value.length === 0 || value.length > 100) throw new ValidationError('backoff intervals must list 1 to 100 delays', 'backoff');
    return { type: 'intervals', intervals: value.map((v, i) => duration(v, `backoff[${i}]`)) };
  }
  if (typeof value !== 'object') throw new ValidationError(`backoff must be ms, a list of ms, or an object; got ${describe(value)}`, 'backoff');
  const b = value as Record<string, unknown>;
  switch (b.type) {
    case 'fixed':
      return { type: 'fixed', delay: duration(b.delay, 'backoff.delay'), ...opt('jitter', jitter(b.jitter)) };
    case 'exponential':
      return {
        type: 'exponential',
        delay: duration(b.delay, 'backoff.delay'),
        ...opt('jitter', jitter(b.jitter)),
        ...opt('maxDelay', b.maxDelay === undefined ? undefined : duration(b.maxDelay, 'backoff.maxDelay')),
      };
    case 'intervals': {
      const list = validateBackoff(b.intervals);
      if (!list || list.type !== 'intervals') throw new ValidationError('backoff.intervals must be a list of ms', 'backoff.intervals');
      return { ...list, ...opt('jitter', jitter(b.jitter)) };
    }
    case 'custom':
      if (typeof b.name !== 'string' || b.name.length === 0) throw new ValidationError('custom backoff needs a name', 'backoff.name');
      return { type: 'custom', name: b.name, ...opt('delay', b.delay === undefined ? undefined : duration(b.delay, 'backoff.delay')) };
    default:
      throw new ValidationError(`backoff.type must be fixed, exponential, intervals or custom; got ${describe(b.type)}`, 'backoff.type');
  }
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** The latest start (expiresIn / expiresAt), or null; it must leave room after the run time. */
function startByOf(opts: JobOptions, now: number, runAt: number | null): number | null {
  if (opts.expiresIn !== undefined && opts.expiresAt !== undefined) throw new ValidationError('give either expiresIn or expiresAt, not both', 'expiresAt');
  let t: number | null = null;
  if (opts.expiresIn !== undefined) t = now + duration(opts.expiresIn, 'expiresIn');
  else if (opts.expiresAt !== undefined && opts.expiresAt !== null) {
    const v = opts.expiresAt instanceof Date ? opts.expiresAt.getTime() : typeof opts.expiresAt === 'string' ? Date.parse(opts.expiresAt) : opts.expiresAt;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ValidationError(`expiresAt must be a date, epoch ms or ISO string; got ${describe(opts.expiresAt)}`, 'expiresAt');
    t = Math.round(v);
  }
  if (t !== null && t <= Math.max(now, runAt ?? 0)) throw new ValidationError('the job would expire before it can start: expiresIn/expiresAt must be after now and after its delay or runAt', opts.expiresIn !== undefined ? 'expiresIn' : 'expiresAt');
  return t;
}

function runAtOf(opts: JobOptions, now: number): number | null {
  if (opts.runAt !== undefined && opts.delay !== undefined) throw new ValidationError('give either delay or runAt, not both', 'runAt');
  if (opts.delay !== undefined) {
    const d = duration(opts.delay, 'delay');
    return d > 0 ? now + d : null;
  }
  if (opts.runAt === undefined || opts.runAt === null) return null;
  const t = opts.runAt instanceof Date ? opts.runAt.getTime() : typeof opts.runAt === 'string' ? Date.parse(opts.runAt) : opts.runAt;
  if (typeof t !== 'number' || !Number.isFinite(t)) throw new ValidationError(`runAt must be a date, epoch ms or ISO string; got ${describe(opts.runAt)}`, 'runAt');
  return t > now ? Math.round(t) : null;
}

const KNOWN_OPTIONS = new Set<string>([
  'jobId', 'priority', 'delay', 'runAt', 'start', 'attempts', 'backoff', 'timeout', 'dependsOn',
  'onParentFailure', 'group', 'resultTtl', 'failureTtl', 'expiresIn', 'expiresAt', 'dedupe', 'debounce',
]);

const DEDUPE_MODES: readonly DedupeMode[] = ['unfinished', 'waiting', 'window'];

function dedupeOf(v: unknown): DedupeSpec | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('dedupe must be {key, mode?, ttlMs?}', 'dedupe');
  const d = v as Record<string, unknown>;
  for (const k of Object.keys(d)) if (k !== 'key' && k !== 'mode' && k !== 'ttlMs') throw new ValidationError(`dedupe has an unknown field "${k}" (it takes key, mode and ttlMs)`, `dedupe.${k}`);
  const key = validateJobId(d.key, 'dedupe.key');
  const mode = (d.mode ?? 'unfinished') as DedupeMode;
  if (!DEDUPE_MODES.includes(mode)) throw new ValidationError(`dedupe.mode must be "unfinished", "waiting" or "window"; got ${describe(d.mode)}`, 'dedupe.mode');
  const ttlMs = d.ttlMs === undefined || d.ttlMs === null ? null : duration(d.ttlMs, 'dedupe.ttlMs');
  if (ttlMs === 0) throw new ValidationError('dedupe.ttlMs must be more than 0', 'dedupe.ttlMs');
  if (mode === 'window' && ttlMs === null) throw new ValidationError('dedupe mode "window" needs ttlMs (how long the key holds after the add)', 'dedupe.ttlMs');
  return { key, mode, ttlMs };
}

function debounceOf(v: unknown, opts: JobOptions): { key: string; delayMs: number } | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('debounce must be {key, delayMs}', 'debounce');
  const d = v as Record<string, unknown>;
  for (const k of Object.keys(d)) if (k !== 'key' && k !== 'delayMs') throw new ValidationError(`debounce has an unknown field "${k}" (it takes key and delayMs)`, `debounce.${k}`);
  const key = validateJobId(d.key, 'debounce.key');
  const delayMs = duration(d.delayMs, 'debounce.delayMs');
  if (delayMs === 0) throw new ValidationError('debounce.delayMs must be more than 0', 'debounce.delayMs');
  // The debounce decides when the job runs and which job an add lands on.
  for (const other of ['delay', 'runAt', 'jobId', 'dedupe', 'dependsOn', 'expiresIn', 'expiresAt'] as const) {
    if (opts[other] !== undefined) throw new ValidationError(`debounce cannot be combined with ${other}: it sets the run time and picks the job itself`, 'debounce');
  }
  if (opts.start === false) throw new ValidationError('debounce cannot be combined with start: false', 'debounce');
  return { key, delayMs };
}

/** Turns a producer's (name, data, options) into a NewJob, or throws a ValidationError. */
export function buildNewJob(
  queue: string,
  name: unknown,
  data: unknown,
  opts: JobOptions = {},
  defaults: JobOptions = {},
  limits: ValidateLimits = DEFAULT_LIMITS,
  now = Date.now(),
): NewJob {
  validateQueueName(queue);
  validateJobName(name);
  if (opts === null || typeof opts !== 'object') throw new ValidationError('options must be an object', 'options');
  for (const key of Object.keys(opts)) {
    if (!KNOWN_OPTIONS.has(key)) throw new ValidationError(`unknown job option "${key}"`, key);
  }
  const o: JobOptions = { ...defaults, ...opts };
  let dataJson: string | undefined;
  try {
    dataJson = JSON.stringify(data === undefined ? null : data);
  } catch (err) {
    throw new ValidationError(`data must be JSON-serializable: ${(err as Error).message}`, 'data');
  }
  if (dataJson === undefined) throw new ValidationError('data must be JSON-serializable', 'data');
  // Length in UTF-16 units is a lower bound of the UTF-8 size; only measure exactly near the limit.
  if (dataJson.length * 3 > limits.maxDataBytes && Buffer.byteLength(dataJson) > limits.maxDataBytes) {
    throw new ValidationError(`data is ${Buffer.byteLength(dataJson)} bytes of JSON; the limit is ${limits.maxDataBytes}`, 'data');
  }
  const dependsOn = o.dependsOn === undefined ? [] : Array.isArray(o.dependsOn) ? o.dependsOn : [o.dependsOn];
  dependsOn.forEach((d, i) => validateJobId(d, `dependsOn[${i}]`));
  if (o.onParentFailure !== undefined && o.onParentFailure !== 'fail' && o.onParentFailure !== 'ignore') {
    throw new ValidationError(`onParentFailure must be "fail" or "ignore"; got ${describe(o.onParentFailure)}`, 'onParentFailure');
  }
  if (o.start !== undefined && typeof o.start !== 'boolean') throw new ValidationError('start must be true or false', 'start');
  if (o.group !== undefined) validateJobId(o.group, 'group');
  const id = opts.jobId === undefined ? newJobId() : validateJobId(opts.jobId);
  const debounceBy = debounceOf(opts.debounce, opts);
  const runAt = debounceBy ? now + debounceBy.delayMs : runAtOf(o, now);
  return {
    id,
    dedupe: opts.jobId !== undefined,
    queue,
    name: name as string,
    dataJson,
    priority: o.priority === undefined ? 0 : int(o.priority, 'priority', -1000, 1000),
    runAt,
    start: o.start ?? true,
    maxAttempts: o.attempts === undefined ? 1 : int(o.attempts, 'attempts', 1, 1000),
    backoff: validateBackoff(o.backoff),
    timeoutMs: o.timeout === undefined || o.timeout === 0 ? null : duration(o.timeout, 'timeout'),
    dependsOn: [...new Set(dependsOn)],
    onParentFailure: o.onParentFailure ?? 'fail',
    groupKey: o.group ?? null,
    scheduleId: null,
    trace: null,
    startBy: startByOf(o, now, runAt),
    resultTtlMs: o.resultTtl === undefined ? null : duration(o.resultTtl, 'resultTtl'),
    failureTtlMs: o.failureTtl === undefined ? null : duration(o.failureTtl, 'failureTtl'),
    dedupeBy: dedupeOf(opts.dedupe),
    debounceBy,
  };
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
