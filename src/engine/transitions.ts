/**
 * Where every outcome of a job is decided: a finish (complete, retry at a time, fail for
 * good), a stall (lease expired), a release (hard shutdown), a new job's first state and
 * what a dependency's end means for the jobs waiting on it. Pure functions over plain
 * fields: stores only apply the decisions, fenced by the lease token (see
 * src/stores/store.ts, `Outcome`), so no backend — Lua included — computes one itself.
 */
import type { Backoff, NewJob, ParentFailurePolicy } from '../core/job.ts';
import type { QueueConfig } from '../core/queue-config.ts';
import type { JobState } from '../core/states.ts';
import { backoffDelay } from './backoff.ts';

/** Where a failed, stalled or released attempt goes next. */
export type Next = { state: 'failed' } | { state: 'queued' } | { state: 'scheduled'; runAt: number };

/** What a worker reports about a failed attempt. */
export interface FailureReport {
  /** false: fail for good even if attempts remain (UnrecoverableError). Default true. */
  retry?: boolean;
  /** Overrides the stored backoff for this retry (a worker's custom backoff function). */
  retryDelayMs?: number;
  /** The worker gave the job back unfinished (hard shutdown): run it again now, attempts or not. */
  release?: boolean;
}

/** After a failed attempt: run again (now or at a time) or fail for good. */
export function decideFailure(
  job: { attempt: number; maxAttempts: number; backoff: Backoff | null },
  report: FailureReport,
  now: number,
  random: () => number = Math.random,
): Next {
  if (report.release) return { state: 'queued' };
  if (report.retry === false || job.attempt >= job.maxAttempts) return { state: 'failed' };
  const delay = report.retryDelayMs ?? backoffDelay(job.backoff, job.attempt, random);
  return delay > 0 ? { state: 'scheduled', runAt: now + delay } : { state: 'queued' };
}

/**
 * A stalled attempt (its worker died: the lease expired) runs again at once and may take
 * one run beyond maxAttempts, so a crash never loses a job added with attempts: 1. A job
 * that stalls past that fails, so a job that kills its worker cannot loop forever.
 */
export const STALL_GRACE = 1;

export function decideStall(job: { attempt: number; maxAttempts: number }): Next {
  return job.attempt < job.maxAttempts + STALL_GRACE ? { state: 'queued' } : { state: 'failed' };
}

export function stallMessage(workerId: string | null): string {
  return `lease expired: worker ${workerId ?? '?'} stopped heartbeating (stalled)`;
}

/** The outcome upkeep writes for a lease that expired by `now` (see Store's Outcome). */
export function stallOutcome(
  job: { id: string; attempt: number; maxAttempts: number; workerId: string | null },
  token: string,
  now: number,
): { id: string; token: string; kind: 'failed'; error: { message: string; stack: null }; next: Next; stalledAt: number } {
  return { id: job.id, token, kind: 'failed', error: { message: stallMessage(job.workerId), stack: null }, next: decideStall(job), stalledAt: now };
}

/** The cancel message of a job not started by its latest start (expiresIn / expiresAt). */
export const EXPIRED = 'expired';

/** What a dependency's state means for a job waiting on it. */
export function dependencyVerdict(parent: JobState | undefined, policy: ParentFailurePolicy): 'done' | 'wait' | 'broken' {
  if (parent === 'completed') return 'done';
  if (parent === undefined || parent === 'failed' || parent === 'canceled') return policy === 'ignore' ? 'done' : 'broken';
  return 'wait';
}

/** State of a job whose dependencies are all resolved (or that has none). */
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
