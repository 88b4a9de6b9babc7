import type { JobState } from './states.ts';

/** How long to wait before attempt n+1. Stored with the job, so any process can apply it. */
export type Backoff =
  | { type: 'fixed'; delay: number; jitter?: number }
  | { type: 'exponential'; delay: number; jitter?: number; maxDelay?: number }
  /** RQ-style explicit intervals: the n-th retry waits intervals[n-1] ms (the last one repeats). */
  | { type: 'intervals'; intervals: number[]; jitter?: number }
  /** Computed by a function registered on the Worker under this name. */
  | { type: 'custom'; name: string; delay?: number };

/** What happens to a job when a job it depends on fails or is canceled. */
export type ParentFailurePolicy = 'fail' | 'ignore';

export interface JobError {
  attempt: number;
  message: string;
  stack: string | null;
  at: number;
}

export type LogStream = 'log' | 'stdout' | 'stderr';

export interface LogLine {
  seq: number;
  at: number;
  stream: LogStream;
  line: string;
}

/** A job as every store returns it. Times are epoch milliseconds. */
export interface Job<Data = unknown, Result = unknown> {
  id: string;
  queue: string;
  name: string;
  data: Data;
  state: JobState;
  priority: number;
  /** When a scheduled job becomes due (null when it is not waiting on time). */
  runAt: number | null;
  /** Attempts started so far (0 before the first claim). */
  attempt: number;
  maxAttempts: number;
  backoff: Backoff | null;
  timeoutMs: number | null;
  progress: number;
  message: string | null;
  result: Result | null;
  errors: JobError[];
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  workerId: string | null;
  leaseUntil: number | null;
  dependsOn: string[];
  onParentFailure: ParentFailurePolicy;
  groupKey: string | null;
  resultTtlMs: number | null;
  failureTtlMs: number | null;
  /** When retention removes this finished job (null: kept). */
  expiresAt: number | null;
  /** The schedule that made this job (null: added directly). */
  scheduleId: string | null;
  /** Not started by then: canceled with message "expired" (null: no limit). */
  startBy: number | null;
  /** The W3C trace context (`traceparent`) of the add, when OpenTelemetry traced it; its attempts continue that trace. */
  trace: string | null;
  /** While in a dead-letter queue: the queue the job failed in (a retry sends it back there). */
  originalQueue: string | null;
  /**
   * While deferred: how many of its dependencies have not finished. Each one that finishes
   * counts it down, so releasing a dependent costs the same for 1 or 10,000 dependencies.
   * null: not counted (jobs stored before the count existed are checked dependency by dependency).
   */
  waitingOn: number | null;
  /** The dedupe key it was added with (JobOptions.dedupe), or null. */
  dedupeKey: string | null;
  /** The debounce key it was added with (JobOptions.debounce), or null. */
  debounceKey: string | null;
  logCount: number;
}

/** A job handed to a worker, with the lease token that fences its finish. */
export interface ClaimedJob<Data = unknown> extends Job<Data> {
  token: string;
}

/** A job as the store receives it: validated and normalized by core/options.ts. */
export interface NewJob {
  id: string;
  /** True when the caller chose the id: an existing job with it makes the add a no-op. */
  dedupe: boolean;
  queue: string;
  name: string;
  /** The data as JSON text: serialized once at the boundary, stored as is. */
  dataJson: string;
  priority: number;
  runAt: number | null;
  /** Added without starting (a job manager's add_job): stays `pending` until promoted. */
  start: boolean;
  maxAttempts: number;
  backoff: Backoff | null;
  timeoutMs: number | null;
  dependsOn: string[];
  onParentFailure: ParentFailurePolicy;
  groupKey: string | null;
  resultTtlMs: number | null;
  failureTtlMs: number | null;
  /** Set by the scheduler on the jobs a schedule makes. */
  scheduleId: string | null;
  /** Latest start (expiresIn / expiresAt): not started by then, it ends canceled ("expired"). */
  startBy: number | null;
  /** Set by a traced add (src/telemetry/): the W3C `traceparent` its attempts continue. */
  trace: string | null;
  /** A dedupe key: while it holds (see DedupeMode), adding again answers with this job. */
  dedupeBy: DedupeSpec | null;
  /** A debounce key: adding again while this job still waits for its run time replaces its data and pushes the run time. */
  debounceBy: { key: string; delayMs: number } | null;
}

/**
 * How long a dedupe key holds: while its job waits (a running job does not block a new
 * one), while it is unfinished (waiting or running), or for `ttlMs` after the add whatever
 * the job's state.
 */
export type DedupeMode = 'waiting' | 'unfinished' | 'window';

export interface DedupeSpec {
  key: string;
  mode: DedupeMode;
  /** The key holds at most this long after the add (required for 'window'); null: no cap. */
  ttlMs: number | null;
}

export interface EnqueueResult {
  id: string;
  state: JobState;
  /** The id already existed: nothing was added. */
  duplicate: boolean;
  /** A debounced add: the waiting job with the key took this add's data and a later run time. */
  debounced?: boolean;
}
