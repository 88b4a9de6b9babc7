/**
 * The Store contract: everything durable goes through this interface, and nothing outside
 * src/stores/ knows which backend it has. Each method is one atomic step over a batch, so
 * a network backend pays one round trip (one Lua script, one transaction) per call.
 *
 * Rules every backend follows (test/contract/ checks them):
 * - Claim order: priority (higher first), then the order in which jobs became `queued`.
 * - A job's initial state: `pending` if added with start=false; else `deferred` while a
 *   dependency is unfinished; else `scheduled` if runAt is in the future; else `queued`.
 * - finish/extend/update with a token apply only while the job is `active` under that
 *   token; otherwise they return false and change nothing (fencing).
 * - Canceling or removing an active job clears its lease: the worker finds out from the
 *   `canceled`/`removed` event or from its next extend, and its finish is rejected.
 */
import type { ClaimedJob, EnqueueResult, Job, JobError, LogLine, LogStream, NewJob } from '../core/job.ts';
import type { QueueConfig } from '../core/queue-config.ts';
import type { JobState } from '../core/states.ts';
import type { Clock } from '../core/clock.ts';
import type { Schedule, ScheduleProgress } from '../core/schedule.ts';
import type { Next } from '../engine/transitions.ts';

export interface ClaimRequest {
  queues: string[];
  workerId: string;
  /** Most jobs to claim in this call. */
  limit: number;
  leaseMs: number;
  /** Only jobs with these names (a worker that handles a subset of types). */
  names?: string[];
  /**
   * The caller waits up to this many ms on these queues (Store.wait) if this claim takes
   * nothing. A store may then lease work that arrives meanwhile to this worker and return
   * it from the worker's next claim, with no claim round trip after the wake-up (Redis
   * does; others ignore it). Such jobs count against the limit given here. A worker that
   * stops calls removeWorker, which hands back anything handed to it and not yet claimed;
   * one that dies is handed work for at most this long (plus a second), which runs again
   * when its lease ends.
   */
  parkMs?: number;
}

/** What Store.finishAndClaim did: finish's booleans, claim's jobs. */
export interface FinishAndClaim {
  finished: boolean[];
  claimed: ClaimedJob[];
}

/** Store.finishAndClaim for a backend without a combined form: the two calls in turn. */
export async function finishThenClaim(store: Store, outcomes: Outcome[], next: ClaimRequest): Promise<FinishAndClaim> {
  const finished = await store.finish(outcomes);
  return { finished, claimed: await store.claim(next) };
}

export interface EnqueueOptions {
  /**
   * The application's own transaction to add the jobs in: they exist if and only if it
   * commits. A `pg` client inside BEGIN for PostgreSQL, the application's `DatabaseSync`
   * on the same file for SQLite; other stores refuse it.
   */
  tx?: unknown;
}

export interface Lease {
  id: string;
  token: string;
}

/**
 * A decided outcome of one attempt (src/engine/ decides; stores apply). It applies only
 * while the job is active under `token`; a failure moves the job where `next` says.
 */
export type Outcome =
  | { id: string; token: string; kind: 'completed'; result: unknown }
  | {
      id: string;
      token: string;
      kind: 'failed';
      error: { message: string; stack?: string | null };
      next: Next;
      /**
       * Set when upkeep reclaims an expired lease: applies only if the lease still ended by
       * this time (a heartbeat in between wins), and emits 'stalled' first.
       */
      stalledAt?: number;
    };

export interface JobUpdate {
  id: string;
  /** When given, the update applies only under this lease (a worker reporting). */
  token?: string;
  progress?: number;
  message?: string | null;
  logs?: { stream: LogStream; line: string }[];
}

export interface ListFilter {
  queue?: string;
  states?: JobState[];
  name?: string;
  /** Case-insensitive substring of the job's id or JSON data. */
  text?: string;
  /** Newest first (default) or oldest first, by creation. */
  order?: 'desc' | 'asc';
  limit?: number;
  /** Opaque cursor from a previous page's `next`. */
  cursor?: string | null;
}

export interface JobPage {
  jobs: Job[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next: string | null;
}

export type StateCounts = Record<JobState, number>;

export interface CleanRequest {
  queue: string;
  /** Finished states to clean (default: completed, failed, canceled). */
  states?: JobState[];
  /** Only jobs finished (or created, for waiting states) at least this long ago. */
  olderThanMs?: number;
  limit?: number;
}

export interface MaintainReport {
  /** scheduled → queued */
  promoted: number;
  /** expired leases: requeued for another attempt, or failed when none remain */
  reclaimed: number;
  /** finished jobs removed by retention */
  expired: number;
}

export type JobEventType =
  | 'added'
  | 'active'
  | 'progress'
  | 'log'
  | 'completed'
  | 'failed'
  | 'retrying'
  | 'canceled'
  | 'removed'
  | 'promoted'
  | 'stalled'
  | 'paused'
  | 'resumed';

export interface JobEvent {
  type: JobEventType;
  queue: string;
  /** Absent for queue-level events (paused, resumed). */
  jobId?: string;
  at: number;
  /** A few fields that listeners need without a read: state, progress, message, error. */
  state?: JobState;
  progress?: number;
  message?: string | null;
  error?: string;
}

export interface WorkerInfo {
  id: string;
  name: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  /** Ids of the jobs it runs now. */
  active: string[];
  startedAt: number;
  lastSeen: number;
  processed: number;
  failed: number;
}

/** Jobs of one queue that completed or failed (for good) in one minute. */
/** Ready and active jobs of one group (Store.groups). */
export interface GroupCounts {
  group: string;
  queued: number;
  active: number;
}

export interface GroupPage {
  groups: GroupCounts[];
  sampled: boolean;
}

export interface MinuteCounts {
  queue: string;
  /** The minute's start, epoch ms. */
  at: number;
  completed: number;
  failed: number;
}

/** How long stores keep the per-minute counts (history()). */
export const HISTORY_MS = 24 * 3600 * 1000;

export interface QueueInfo {
  name: string;
  config: QueueConfig;
  counts: StateCounts;
}

export interface Store {
  /** 'memory' | 'sqlite' | 'redis' | 'postgres': for health reports, never for branching. */
  readonly kind: string;
  /** Human-readable location (file path, URL without password). */
  readonly location: string;
  /** The time this store stamps and compares jobs by; Queue and Worker default to it. */
  readonly clock: Clock;
  /**
   * True when wait() also returns at once for work announced after this process's last
   * claim on those queues, before the wait began (Redis: a claim returns each queue's newest
   * marker id and a wait reads past it). A Worker then subscribes only to cancels and
   * removals; otherwise it also listens for new work, to close that gap itself.
   */
  readonly waitSeesMissedWork?: boolean;
  /**
   * True when finishAndClaim is one call to the backend (Redis: one script run). A Worker
   * whose last claim came up short (its queues look drained) then sends its next claim
   * along with its outcomes; elsewhere it sends them side by side.
   */
  readonly finishAndClaimInOneCall?: boolean;

  // ----- writes -----------------------------------------------------------------------
  /** Adds jobs in one atomic step; honours dedupe, dependencies and queue limits. */
  enqueue(jobs: NewJob[], options?: EnqueueOptions): Promise<EnqueueResult[]>;
  claim(req: ClaimRequest): Promise<ClaimedJob[]>;
  /** Extends leases; one boolean per lease: false when the lease is lost. */
  extend(leases: Lease[], leaseMs: number): Promise<boolean[]>;
  /** Completes, fails or retries; one boolean per outcome: false when fenced out. */
  finish(outcomes: Outcome[]): Promise<boolean[]>;
  /**
   * finish(outcomes), then claim(next), as one call where the backend can (Redis: one
   * script run): the same results as the two calls in turn, and the claim sees what the
   * finish made ready (a retry due now).
   */
  finishAndClaim(outcomes: Outcome[], next: ClaimRequest): Promise<FinishAndClaim>;
  /** Progress, message and log lines; one boolean per update: false when not applied. */
  update(updates: JobUpdate[]): Promise<boolean[]>;
  /** Cancels waiting or active jobs; returns the ids it changed. */
  cancel(ids: string[], reason?: string): Promise<string[]>;
  /** Deletes jobs (active ones lose their lease); returns the ids it removed. */
  remove(ids: string[]): Promise<string[]>;
  /** Failed or canceled → queued with a fresh attempt count; returns the ids it changed. */
  retry(ids: string[]): Promise<string[]>;
  /** Pending or scheduled → queued (or deferred while dependencies are unfinished). */
  promote(ids: string[]): Promise<string[]>;
  /** Removes finished jobs of a queue by state and age; returns how many. */
  clean(req: CleanRequest): Promise<number>;
  /** Changes a queue's settings (pause/resume included) and returns them. */
  configureQueue(queue: string, patch: Partial<QueueConfig>): Promise<QueueConfig>;

  // ----- reads ------------------------------------------------------------------------
  get(id: string): Promise<Job | null>;
  /**
   * Ids of the jobs that wait on this one (deferred until it finishes), sorted; empty once
   * it finished and released them, or for an unknown id.
   */
  dependents(id: string): Promise<string[]>;
  list(filter: ListFilter): Promise<JobPage>;
  /** Lines after `afterSeq` (0: from the start), at most `limit`. */
  logs(id: string, afterSeq?: number, limit?: number): Promise<LogLine[]>;
  /** Counts per state of each queue (all known queues when none given). */
  counts(queues?: string[]): Promise<Record<string, StateCounts>>;
  queues(): Promise<QueueInfo[]>;
  queueConfig(queue: string): Promise<QueueConfig>;
  /**
   * Completed and failed jobs per queue and minute from `since` on (minutes that had some),
   * oldest first; kept for HISTORY_MS, so every server reads the same series and a restart
   * keeps it. Counted where the job finishes, by the store's clock.
   */
  history(since: number, queues?: string[]): Promise<MinuteCounts[]>;
  /**
   * The groups of a queue that have ready or active jobs, with their counts: most ready
   * first, at most `limit` (default 50). `sampled`: the store counted the first
   * 10,000 jobs of each state only (Redis keeps no per-group index of waiting jobs).
   */
  groups(queue: string, limit?: number): Promise<GroupPage>;

  // ----- upkeep -----------------------------------------------------------------------
  /** Promotes due jobs, reclaims expired leases, applies retention. Idempotent. */
  maintain(now?: number): Promise<MaintainReport>;
  /** Resolves when work may be ready in one of these queues, on abort, or after timeoutMs. */
  wait(queues: string[], timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /**
   * Job lifecycle events; returns an unsubscribe function. `types` names the events the
   * listener needs: a hint that lets a networked store send other processes less (a Worker
   * needs few of them); the listener may still receive others.
   */
  subscribe(listener: (event: JobEvent) => void, types?: readonly JobEventType[]): () => void;

  // ----- schedules --------------------------------------------------------------------
  /** Creates or replaces a schedule (spec and progress as given). */
  saveSchedule(schedule: Schedule): Promise<void>;
  /** Schedules of a queue, or of every queue; sorted by queue, then id. */
  schedules(queue?: string): Promise<Schedule[]>;
  /** True when there was one to remove. */
  removeSchedule(queue: string, id: string): Promise<boolean>;
  /**
   * Records a run of the scheduler: sets the progress to `next` only if it is still
   * `expected` (compare-and-set), so of two processes ticking at once one wins.
   */
  advanceSchedule(queue: string, id: string, expected: ScheduleProgress, next: ScheduleProgress): Promise<boolean>;

  // ----- leadership -------------------------------------------------------------------
  /**
   * Takes or renews a lease on a role (e.g. 'maintainer') for `holder`, for ttlMs of the
   * store's clock. True while `holder` has it: one holder at a time, whichever processes
   * share the store; a silent holder loses it when the lease runs out.
   */
  lead(role: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the role up at once if `holder` has it (a clean shutdown). */
  resign(role: string, holder: string): Promise<void>;

  // ----- workers ----------------------------------------------------------------------
  /** Records a worker's heartbeat; it disappears from `workers()` after ttlMs of silence. */
  reportWorker(info: WorkerInfo, ttlMs: number): Promise<void>;
  removeWorker(id: string): Promise<void>;
  workers(): Promise<WorkerInfo[]>;

  /** What keeps the store from working now (file removed, disk full, server unreachable), or null. */
  problem(): Promise<string | null>;

  close(): Promise<void>;
}

export function emptyCounts(): StateCounts {
  return { pending: 0, scheduled: 0, deferred: 0, queued: 0, active: 0, completed: 0, failed: 0, canceled: 0 };
}

export type { ClaimedJob, EnqueueResult, Job, JobError, LogLine, NewJob, QueueConfig, JobState, Next, Schedule, ScheduleProgress };
