/**
 * Decisions every backend makes the same way, kept here so the stores only differ in how
 * they read and write. Imports only core.
 */
import { backoffDelay } from '../core/backoff.ts';
import { NotFoundError, QueueFullError, ValidationError } from '../core/errors.ts';
import type { Backoff, NewJob, ParentFailurePolicy } from '../core/job.ts';
import type { QueueConfig } from '../core/queue-config.ts';
import type { JobState } from '../core/states.ts';

/** What a dependency's state means for a job waiting on it. */
export function dependencyVerdict(parent: JobState | undefined, policy: ParentFailurePolicy): 'done' | 'wait' | 'broken' {
  if (parent === 'completed') return 'done';
  if (parent === undefined || parent === 'failed' || parent === 'canceled') return policy === 'ignore' ? 'done' : 'broken';
  return 'wait';
}

/** State of a new job whose dependencies are all resolved (or that has none). */
export function readyState(runAt: number | null, now: number): 'scheduled' | 'queued' {
  return runAt !== null && runAt > now ? 'scheduled' : 'queued';
}

/** The state a new job starts in, given its dependencies' verdicts. */
export function initialState(job: NewJob, verdicts: ('done' | 'wait' | 'broken')[], now: number): JobState {
  if (!job.start) return 'pending';
  if (verdicts.includes('broken')) return 'failed';
  if (verdicts.includes('wait')) return 'deferred';
  return readyState(job.runAt, now);
}

export function brokenDependencyError(parentId: string): string {
  return `dependency ${parentId} failed or was canceled`;
}

/** After a failed attempt: run again (when) or fail for good. */
export function retryPlan(
  job: { attempt: number; maxAttempts: number; backoff: Backoff | null },
  outcome: { retry?: boolean; retryDelayMs?: number; release?: boolean },
  now: number,
): { state: 'failed' } | { state: 'queued' | 'scheduled'; runAt: number | null } {
  if (outcome.release) return { state: 'queued', runAt: null };
  if (outcome.retry === false || job.attempt >= job.maxAttempts) return { state: 'failed' };
  const delay = outcome.retryDelayMs ?? backoffDelay(job.backoff, job.attempt);
  return delay > 0 ? { state: 'scheduled', runAt: now + delay } : { state: 'queued', runAt: null };
}

/**
 * A stalled attempt (its worker died: the lease expired) runs again at once and may take
 * one run beyond maxAttempts, so a crash never loses a job added with attempts: 1. A job
 * that stalls past that fails, so a job that kills its worker cannot loop forever.
 */
export const STALL_GRACE = 1;

export function stallPlan(job: { attempt: number; maxAttempts: number }): { state: 'failed' } | { state: 'queued'; runAt: null } {
  return job.attempt < job.maxAttempts + STALL_GRACE ? { state: 'queued', runAt: null } : { state: 'failed' };
}

/** When retention removes a job that just finished (null: keep it). */
export function expiryFor(
  state: JobState,
  job: { resultTtlMs: number | null; failureTtlMs: number | null },
  config: QueueConfig,
  finishedAt: number,
): number | null {
  const ttl = state === 'completed' ? (job.resultTtlMs ?? config.resultTtlMs) : (job.failureTtlMs ?? config.failureTtlMs);
  return ttl === null || ttl === undefined ? null : finishedAt + ttl;
}

/** Cursors are opaque to callers; stores put a sort key and an id in them. */
export function encodeCursor(key: number, id: string): string {
  return Buffer.from(JSON.stringify([key, id])).toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined): [number, string] | null {
  if (!cursor) return null;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // fall through to the error below
  }
  throw new ValidationError('cursor is not one this server gave out', 'cursor');
}

export const MAX_LOG_LINES = 10_000;
export const MAX_LOG_LINE_LENGTH = 8_192;
export const MAX_PAGE = 1000;

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new ValidationError(`limit must be an integer from 1 to ${MAX_PAGE}`, 'limit');
  return limit;
}

export function clampProgress(p: number): number {
  if (typeof p !== 'number' || !Number.isFinite(p)) throw new ValidationError('progress must be a number from 0 to 100', 'progress');
  return Math.max(0, Math.min(100, p));
}

export function truncateLine(line: string): string {
  return line.length > MAX_LOG_LINE_LENGTH ? line.slice(0, MAX_LOG_LINE_LENGTH) + '…' : line;
}

/** What a store answers so `admit` can apply a queue's size and per-type limits. */
export interface AdmissionView {
  exists(id: string): boolean;
  config(queue: string): QueueConfig;
  /** Unfinished jobs of the queue (of one name when given). */
  unfinished(queue: string, name?: string): number;
  /** Ids of the oldest waiting jobs (of one name when given), skipping `skip`. */
  oldestWaiting(queue: string, name: string | undefined, n: number, skip: ReadonlySet<string>): string[];
}

/**
 * Checks a whole batch before anything is written: dependencies exist, and each queue's
 * max size and per-type limits hold (seed 004: refuse, or evict the oldest waiting jobs).
 * Returns the ids to evict; throws NotFoundError / QueueFullError and then nothing changes.
 */
export function admit(jobs: NewJob[], view: AdmissionView): string[] {
  const batchIds = new Set<string>();
  const growth = new Map<string, { total: number; byName: Map<string, number> }>();
  for (const nj of jobs) {
    if (batchIds.has(nj.id) || view.exists(nj.id)) continue;
    for (const d of nj.dependsOn) {
      if (!batchIds.has(d) && !view.exists(d)) throw new NotFoundError(`job ${nj.id} depends on ${d}, which does not exist`);
    }
    batchIds.add(nj.id);
    const g = growth.get(nj.queue) ?? { total: 0, byName: new Map<string, number>() };
    g.total++;
    g.byName.set(nj.name, (g.byName.get(nj.name) ?? 0) + 1);
    growth.set(nj.queue, g);
  }
  const evict = new Set<string>();
  for (const [queue, g] of growth) {
    const cfg = view.config(queue);
    const plan = (over: number, name: string | undefined, what: string) => {
      if (over <= 0) return;
      if (cfg.overflow === 'reject') throw new QueueFullError(`${what}; the add was refused`);
      const victims = view.oldestWaiting(queue, name, over, evict);
      if (victims.length < over) throw new QueueFullError(`${what} and not enough waiting jobs can be evicted`);
      for (const v of victims) evict.add(v);
    };
    if (cfg.maxSize !== null) plan(view.unfinished(queue) + g.total - cfg.maxSize, undefined, `queue ${queue} is full (max size ${cfg.maxSize})`);
    for (const [name, n] of g.byName) {
      const limit = cfg.typeLimits[name];
      if (limit !== undefined) plan(view.unfinished(queue, name) + n - limit, name, `queue ${queue} holds its limit of ${limit} unfinished "${name}" jobs`);
    }
  }
  return [...evict];
}

/** What a claim writes on the job it leases: a new attempt, started now by this worker. */
export function startAttempt(
  job: { attempt: number; startedAt: number | null; workerId: string | null; leaseUntil: number | null; progress: number; message: string | null },
  workerId: string,
  now: number,
  leaseMs: number,
): void {
  job.attempt++;
  job.startedAt = now;
  job.workerId = workerId;
  job.leaseUntil = now + leaseMs;
  job.progress = 0;
  job.message = null;
}

/** A failed or canceled job put back for a fresh run (Store.retry). */
export function resetForRetry(job: { attempt: number; finishedAt: number | null; progress: number; message: string | null; runAt: number | null }): void {
  job.attempt = 0;
  job.finishedAt = null;
  job.progress = 0;
  job.message = null;
  job.runAt = null;
}
