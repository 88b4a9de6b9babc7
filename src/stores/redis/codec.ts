/**
 * How jobs and events are stored in Redis and read back. A job is one hash whose fields
 * are the Job's own names; an absent field is null. Data and result are stored as the JSON
 * text they arrived as, so they are parsed once, on read.
 */
import type { Backoff, Job, JobError, LogLine, LogStream, ParentFailurePolicy } from '../../core/job.ts';
import type { JobState } from '../../core/states.ts';
import type { JobEvent, JobEventType } from '../store.ts';

export type Hash = Record<string, string>;

/** A flat [field, value, ...] reply (HGETALL inside Lua) as an object. */
export function pairsToHash(flat: unknown): Hash {
  const out: Hash = {};
  if (!Array.isArray(flat)) return flat && typeof flat === 'object' ? (flat as Hash) : out;
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}

function num(v: string | undefined): number | null {
  return v === undefined || v === '' ? null : Number(v);
}

function json<T>(v: string | undefined, fallback: T): T {
  return v === undefined || v === '' ? fallback : (JSON.parse(v) as T);
}

/**
 * A value stored in chunks (`data`, `data.1`, `data.2`, ...: lua/lib.lua putValue) as one
 * string; each chunk ends on a character boundary, so each decoded on its own joins right.
 */
function joined(h: Hash, field: string): string | undefined {
  let v = h[field];
  if (v === undefined) return undefined;
  for (let k = 1; h[`${field}.${k}`] !== undefined; k++) v += h[`${field}.${k}`];
  return v;
}

export function hashToJob(h: Hash, logCount: number): Job {
  const errors = json<Partial<JobError>[]>(h.errors, []).map((e) => ({
    attempt: e.attempt ?? 0,
    message: e.message ?? '',
    stack: e.stack ?? null,
    at: e.at ?? 0,
  }));
  return {
    id: h.id,
    queue: h.queue,
    name: h.name,
    data: json<unknown>(joined(h, 'data'), null),
    state: h.state as JobState,
    priority: Number(h.priority ?? 0),
    runAt: num(h.runAt),
    attempt: Number(h.attempt ?? 0),
    maxAttempts: Number(h.maxAttempts ?? 1),
    backoff: json<Backoff | null>(h.backoff, null),
    timeoutMs: num(h.timeoutMs),
    progress: Number(h.progress ?? 0),
    message: h.message ?? null,
    result: json<unknown>(joined(h, 'result'), null),
    errors,
    createdAt: Number(h.createdAt),
    startedAt: num(h.startedAt),
    finishedAt: num(h.finishedAt),
    workerId: h.workerId ?? null,
    // Scripts leave a stale leaseUntil behind when a job leaves 'active' (one write less).
    leaseUntil: h.state === 'active' ? num(h.leaseUntil) : null,
    dependsOn: json<string[]>(h.dependsOn, []),
    onParentFailure: (h.onParentFailure ?? 'fail') as ParentFailurePolicy,
    groupKey: h.groupKey ?? null,
    resultTtlMs: num(h.resultTtlMs),
    failureTtlMs: num(h.failureTtlMs),
    expiresAt: num(h.expiresAt),
    scheduleId: h.scheduleId ?? null,
    dedupeKey: h.dedupeKey ?? null,
    debounceKey: h.debounceKey ?? null,
    trace: h.trace ?? null,
    originalQueue: h.originalQueue ?? null,
    waitingOn: h.waitingOn === undefined ? null : Number(h.waitingOn),
    startBy: num(h.startBy),
    logCount,
  };
}

/** A log entry is `seq|at|stream|line` (the line may hold '|'; it comes last). */
export function parseLogLine(raw: string): LogLine {
  const a = raw.indexOf('|');
  const b = raw.indexOf('|', a + 1);
  const c = raw.indexOf('|', b + 1);
  return { seq: Number(raw.slice(0, a)), at: Number(raw.slice(a + 1, b)), stream: raw.slice(b + 1, c) as LogStream, line: raw.slice(c + 1) };
}

/**
 * An event stream entry's fields (t, q, j, s, p, m, e, a) as JobEvents: one per job id
 * (several ids, newline-separated, share an entry when all else is equal), or one
 * queue-level event when there is no id.
 */
export function fieldsToEvents(fields: string[]): JobEvent[] {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
  const base: JobEvent = { type: f.t as JobEventType, queue: f.q, at: Number(f.a) };
  if (f.s !== undefined) base.state = f.s as JobState;
  if (f.p !== undefined) base.progress = Number(f.p);
  if (f.m !== undefined) base.message = f.m;
  else if (base.type === 'progress') base.message = null;
  if (f.e !== undefined) base.error = f.e;
  if (f.j === undefined) return [base];
  return f.j.split('\n').map((jobId) => ({ ...base, jobId }));
}

/** Orders stream ids ("ms-seq"): negative, zero or positive like a comparator. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  return Number(am) - Number(bm) || Number(as ?? 0) - Number(bs ?? 0);
}

export function maxId(a: string | undefined, b: string | undefined): string {
  if (a === undefined) return b ?? '0-0';
  if (b === undefined) return a;
  return compareIds(a, b) >= 0 ? a : b;
}
