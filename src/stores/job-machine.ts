/**
 * How a store that holds its job rows in this process (memory, SQLite) applies the engine's
 * decisions: the state machine written once, over a small row interface. A store says how
 * to read, write and index a row (`JobRows`); this file says what happens to a job on a
 * finish, a failure, a cancel, a retry, a promote, a removal, an add, and what a finished
 * job means for the jobs that depend on it. Callers run each method inside their own
 * atomic step (a SQLite transaction; the memory store's synchronous call).
 */
import type { EnqueueResult, Job, NewJob } from '../core/job.ts';
import type { QueueConfig } from '../core/queue-config.ts';
import { canTransition, isFinished, type JobState, type TRANSITIONS } from '../core/states.ts';
import { brokenDependencyError, dependencyVerdict, expiryFor, initialState, readyState, resetForRetry, type Next } from '../engine/transitions.ts';
import { admit, type AdmissionView } from '../engine/admission.ts';
import type { JobEvent, Outcome } from './store.ts';

export interface JobRows {
  /** The job to change: the store's live object, or a copy it writes back in `write`. */
  load(id: string): Job | null;
  /** The job, only while active under this lease token. */
  leased(id: string, token: string): Job | null;
  stateOf(id: string): JobState | undefined;
  config(queue: string): QueueConfig;
  /**
   * Stores a job that just moved from `from` to `job.state`, keeping indexes and counts
   * right and waking waiters of work it made ready. `token` is its lease when it became
   * active (null otherwise).
   */
  write(job: Job, from: JobState, token: string | null): void;
  /** Stores a new job in its first state (never 'failed'), with its data as sent. */
  insert(job: Job, dataJson: string): void;
  /** Deletes a job with its logs and dependency edges. */
  delete(job: Job): void;
  /** Records that `child` waits on each of `parents`. */
  link(child: string, parents: string[]): void;
  /** Ids of the jobs waiting on a parent; the edges are forgotten. */
  takeChildren(parentId: string): string[];
  /**
   * Stores a finished job that moved from queue `from` to `job.queue` (to a dead-letter
   * queue, or back from one), keeping per-queue counts and indexes right.
   */
  moveQueue(job: Job, from: string): void;
  /** Stores new data for a job (a debounced add), as sent. */
  replaceData(job: Job, dataJson: string): void;
  emit(e: JobEvent): void;
}

export class JobMachine {
  private readonly rows: JobRows;

  constructor(rows: JobRows) {
    this.rows = rows;
  }

  /** Moves a job to a state, stamping what that state implies, and releases its dependents when it ends. */
  move(job: Job, to: JobState, now: number, token: string | null = null): void {
    const from = job.state;
    if (from === 'active' && to !== 'active') job.leaseUntil = null;
    job.state = to;
    if (to === 'queued') job.runAt = null;
    const finished = isFinished(to);
    if (finished) {
      job.finishedAt = now;
      job.expiresAt = expiryFor(to, job, this.rows.config(job.queue), now);
    } else {
      job.expiresAt = null;
    }
    this.rows.write(job, from, token);
    if (finished) this.releaseDependents(job.id, to, now);
  }

  /** Adds a batch: admission first (a refused batch changes nothing), then each job in its first state. */
  enqueue(jobs: NewJob[], now: number, view: AdmissionView, known: (id: string) => JobState | undefined): EnqueueResult[] {
    const evicted = new Set(admit(jobs, view));
    for (const id of evicted) {
      const victim = this.rows.load(id);
      if (victim) this.remove(victim, now);
    }
    // `known` answers for the store as it was before this call; the batch's own adds
    // (an id twice in one batch) and evictions are tracked here.
    const added = new Map<string, JobState>();
    const results: EnqueueResult[] = [];
    for (const nj of jobs) {
      const existing = added.get(nj.id) ?? (evicted.has(nj.id) ? undefined : known(nj.id));
      if (existing !== undefined) {
        results.push({ id: nj.id, state: existing, duplicate: true });
        continue;
      }
      const verdicts = nj.dependsOn.map((d) => dependencyVerdict(this.rows.stateOf(d), nj.onParentFailure));
      const state = initialState(nj, verdicts, now);
      // Stored in its first state at once; a job born broken is stored pending, then failed.
      const first = state === 'failed' ? 'pending' : state;
      const job = newJob(nj, first, now);
      if (first === 'deferred') job.waitingOn = verdicts.filter((v) => v === 'wait').length;
      this.rows.insert(job, nj.dataJson);
      if (nj.dependsOn.length > 0) this.rows.link(nj.id, nj.dependsOn);
      this.rows.emit({ type: 'added', queue: nj.queue, jobId: nj.id, at: now, state });
      if (state === 'failed') this.failWith(job, brokenDependencyError(nj.dependsOn[verdicts.indexOf('broken')]), now);
      added.set(nj.id, job.state);
      results.push({ id: nj.id, state: job.state, duplicate: false });
    }
    return results;
  }

  /** Applies a decided outcome if its lease still holds; false when fenced out. */
  finish(o: Outcome, now: number): boolean {
    const job = this.rows.leased(o.id, o.token);
    if (!job) return false;
    if (o.kind === 'completed') {
      job.result = o.result === undefined ? null : o.result;
      job.progress = 100;
      this.move(job, 'completed', now);
      this.rows.emit({ type: 'completed', queue: job.queue, jobId: job.id, at: now, state: 'completed' });
      return true;
    }
    // A reclaim that a heartbeat overtook: the lease is alive again.
    if (o.stalledAt !== undefined && (job.leaseUntil === null || job.leaseUntil > o.stalledAt)) return false;
    job.errors.push({ attempt: job.attempt, message: o.error.message, stack: o.error.stack ?? null, at: now });
    if (o.stalledAt !== undefined) this.rows.emit({ type: 'stalled', queue: job.queue, jobId: job.id, at: now });
    this.fail(job, o.next, o.error.message, now);
    return true;
  }

  private fail(job: Job, next: Next, message: string, now: number): void {
    job.workerId = null;
    if (next.state === 'failed') {
      this.move(job, 'failed', now);
      this.rows.emit({ type: 'failed', queue: job.queue, jobId: job.id, at: now, state: 'failed', error: message });
      const deadLetter = this.rows.config(job.queue).deadLetter;
      if (deadLetter && deadLetter !== job.queue) this.changeQueue(job, deadLetter, now);
    } else {
      job.runAt = next.state === 'scheduled' ? next.runAt : null;
      this.move(job, next.state, now);
      this.rows.emit({ type: 'retrying', queue: job.queue, jobId: job.id, at: now, state: next.state, error: message });
    }
  }

  private failWith(job: Job, message: string, now: number): void {
    job.errors.push({ attempt: job.attempt, message, stack: null, at: now });
    this.move(job, 'failed', now);
    this.rows.emit({ type: 'failed', queue: job.queue, jobId: job.id, at: now, state: 'failed', error: message });
  }

  /** Applies `change` to each job whose state allows `op` (any state when null); returns the ids changed. */
  each(ids: string[], op: keyof typeof TRANSITIONS | null, now: number, change: (job: Job) => void): string[] {
    const changed: string[] = [];
    for (const id of ids) {
      const job = this.rows.load(id);
      if (!job || (op !== null && !canTransition(op, job.state))) continue;
      change(job);
      changed.push(id);
    }
    return changed;
  }

  cancel(ids: string[], reason: string, now: number): string[] {
    return this.each(ids, 'cancel', now, (job) => {
      job.message = reason;
      job.workerId = null;
      this.move(job, 'canceled', now);
      this.rows.emit({ type: 'canceled', queue: job.queue, jobId: job.id, at: now, state: 'canceled', message: reason });
    });
  }

  /** Moves a finished job to another queue (a dead-letter queue, or back), under that queue's retention. */
  private changeQueue(job: Job, to: string, now: number): void {
    const from = job.queue;
    job.originalQueue = job.originalQueue === to ? null : (job.originalQueue ?? from);
    job.queue = to;
    job.expiresAt = expiryFor(job.state, job, this.rows.config(to), now);
    this.rows.moveQueue(job, from);
  }

  retry(ids: string[], now: number): string[] {
    return this.each(ids, 'retry', now, (job) => {
      // A dead letter goes back to the queue it failed in.
      if (job.originalQueue) this.changeQueue(job, job.originalQueue, now);
      resetForRetry(job);
      this.move(job, 'queued', now);
      this.rows.emit({ type: 'retrying', queue: job.queue, jobId: job.id, at: now, state: 'queued' });
    });
  }

  promote(ids: string[], now: number): string[] {
    return this.each(ids, 'promote', now, (job) => {
      const verdicts = job.dependsOn.map((d) => dependencyVerdict(this.rows.stateOf(d), job.onParentFailure));
      if (verdicts.includes('broken')) {
        this.failWith(job, brokenDependencyError(job.dependsOn[verdicts.indexOf('broken')]), now);
      } else {
        job.runAt = null;
        job.waitingOn = verdicts.includes('wait') ? verdicts.filter((v) => v === 'wait').length : null;
        this.move(job, verdicts.includes('wait') ? 'deferred' : 'queued', now);
        this.rows.emit({ type: 'promoted', queue: job.queue, jobId: job.id, at: now, state: job.state });
      }
    });
  }

  /**
   * A debounced add: the job, while it still waits for its run time, takes the new data and
   * run time. False when it no longer waits (it came due or started): then nothing changes.
   */
  debounce(id: string, dataJson: string, runAt: number, now: number): boolean {
    const job = this.rows.load(id);
    if (!job || job.state !== 'scheduled') return false;
    job.runAt = runAt;
    this.move(job, 'scheduled', now);
    this.rows.replaceData(job, dataJson);
    return true;
  }

  /** A scheduled job that came due. */
  due(job: Job, now: number): void {
    this.move(job, 'queued', now);
    this.rows.emit({ type: 'promoted', queue: job.queue, jobId: job.id, at: now, state: 'queued' });
  }

  remove(job: Job, now: number): void {
    this.rows.delete(job);
    this.rows.emit({ type: 'removed', queue: job.queue, jobId: job.id, at: now });
    // Children waiting on a removed job see it as gone (canceled).
    this.releaseDependents(job.id, undefined, now);
  }

  private releaseDependents(parentId: string, parentState: JobState | undefined, now: number): void {
    for (const childId of this.rows.takeChildren(parentId)) {
      const child = this.rows.load(childId);
      if (!child || child.state !== 'deferred') continue;
      const policy = child.onParentFailure;
      if (dependencyVerdict(parentState, policy) === 'broken') {
        this.failWith(child, brokenDependencyError(parentId), now);
        continue;
      }
      let ready: boolean;
      if (child.waitingOn !== null) {
        // Counted down: no look at the other dependencies (a broken one failed it already).
        child.waitingOn = Math.max(0, child.waitingOn - 1);
        ready = child.waitingOn === 0;
        if (!ready) this.rows.write(child, child.state, null);
      } else {
        const verdicts = child.dependsOn.map((d) => dependencyVerdict(d === parentId ? parentState : this.rows.stateOf(d), policy));
        if (verdicts.includes('broken')) {
          this.failWith(child, brokenDependencyError(parentId), now);
          continue;
        }
        ready = !verdicts.includes('wait');
      }
      if (ready) {
        child.waitingOn = null;
        this.move(child, readyState(child.runAt, now), now);
        this.rows.emit({ type: 'promoted', queue: child.queue, jobId: childId, at: now, state: child.state });
      }
    }
  }
}

/** A new job's full record in its first state. */
function newJob(nj: NewJob, state: JobState, now: number): Job {
  return {
    id: nj.id,
    queue: nj.queue,
    name: nj.name,
    data: null,
    state,
    priority: nj.priority,
    runAt: state === 'queued' ? null : nj.runAt,
    attempt: 0,
    maxAttempts: nj.maxAttempts,
    backoff: nj.backoff,
    timeoutMs: nj.timeoutMs,
    progress: 0,
    message: null,
    result: null,
    errors: [],
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    workerId: null,
    leaseUntil: null,
    dependsOn: nj.dependsOn,
    onParentFailure: nj.onParentFailure,
    groupKey: nj.groupKey,
    resultTtlMs: nj.resultTtlMs,
    failureTtlMs: nj.failureTtlMs,
    expiresAt: null,
    scheduleId: nj.scheduleId,
    startBy: nj.startBy,
    trace: nj.trace,
    originalQueue: null,
    waitingOn: null,
    dedupeKey: nj.dedupeBy?.key ?? null,
    debounceKey: nj.debounceBy?.key ?? null,
    logCount: 0,
  };
}
