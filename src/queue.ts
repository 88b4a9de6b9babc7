/**
 * The Queue: what a producer or an operator holds. It validates every input at the
 * boundary (so a store only ever sees well-formed jobs) and turns "nothing changed"
 * answers from the store into typed errors that say why.
 */
import { EventEmitter } from 'node:events';
import type { Timer } from './core/clock.ts';
import { buildSchedule, type Schedule, type ScheduleSpec } from './core/schedule.ts';
import { mergeSchedule } from './engine/schedule.ts';
import { NotFoundError, StateError, TimeoutError, ValidationError } from './core/errors.ts';
import type { EnqueueResult, Job, LogLine } from './core/job.ts';
import { buildNewJob, DEFAULT_LIMITS, validateJobId, validateQueueName, type JobOptions, type ValidateLimits } from './core/options.ts';
import { validateQueueConfigPatch, type QueueConfig } from './core/queue-config.ts';
import { isFinished, parseState, TRANSITIONS, type JobState } from './core/states.ts';
import type { JobEvent, JobEventType, JobPage, StateCounts, Store } from './stores/store.ts';

export interface QueueOptions {
  /** Options every job added through this Queue starts from. */
  defaultJobOptions?: JobOptions;
  /** Largest job data accepted, in bytes of JSON (default 1 MiB). */
  maxDataBytes?: number;
}

export interface BulkJob<Data = unknown> {
  name: string;
  data?: Data;
  opts?: JobOptions;
}

export interface ListOptions {
  /** One state or several; other tools' names (waiting, started, stopped...) are accepted. */
  state?: JobState | string | (JobState | string)[];
  name?: string;
  /** Case-insensitive text in the job's id or data. */
  text?: string;
  order?: 'asc' | 'desc';
  limit?: number;
  cursor?: string | null;
}

export interface CleanOptions {
  /** Finished states to remove (default all three). */
  states?: (JobState | string)[];
  /** Only jobs that finished at least this long ago (ms; default 0). */
  olderThan?: number;
  limit?: number;
}

export type QueueEvents = { [K in JobEventType]: [event: JobEvent] } & { error: [error: Error] };

export class Queue<Data = unknown> extends EventEmitter<QueueEvents> {
  readonly name: string;
  readonly store: Store;
  private readonly defaults: JobOptions;
  private readonly limits: ValidateLimits;
  private unsubscribe: (() => void) | null = null;

  constructor(store: Store, name: string, options: QueueOptions = {}) {
    super();
    this.store = store;
    this.name = validateQueueName(name);
    this.defaults = options.defaultJobOptions ?? {};
    this.limits = { ...DEFAULT_LIMITS, ...(options.maxDataBytes === undefined ? {} : { maxDataBytes: options.maxDataBytes }) };
    // Validate the defaults once, now, rather than on every add.
    buildNewJob(this.name, 'defaults-check', null, {}, this.defaults, this.limits);
    // Store events are subscribed to only while someone listens to this Queue.
    const raw = this as EventEmitter;
    raw.on('newListener', (event: string) => {
      if (event !== 'removeListener' && event !== 'newListener') this.listen();
    });
    raw.on('removeListener', () => {
      if (this.totalListeners() === 0) this.stopListening();
    });
  }

  // ----- producing ----------------------------------------------------------------------

  /** Adds one job. With a `jobId` that exists already, nothing is added (`duplicate: true`). */
  async add(name: string, data?: Data, opts?: JobOptions): Promise<EnqueueResult> {
    const [result] = await this.store.enqueue([buildNewJob(this.name, name, data, opts, this.defaults, this.limits, this.store.clock.now())]);
    return result;
  }

  /** Adds many jobs in one atomic step: all are added, or (on a refusal) none. */
  async addBulk(jobs: BulkJob<Data>[]): Promise<EnqueueResult[]> {
    if (!Array.isArray(jobs)) throw new ValidationError('addBulk takes an array of {name, data, opts}', 'jobs');
    if (jobs.length === 0) return [];
    const now = this.store.clock.now();
    const built = jobs.map((j, i) => {
      if (j === null || typeof j !== 'object') throw new ValidationError(`jobs[${i}] must be an object {name, data, opts}`, `jobs[${i}]`);
      return buildNewJob(this.name, j.name, j.data, j.opts, this.defaults, this.limits, now);
    });
    return this.store.enqueue(built);
  }

  // ----- reading ------------------------------------------------------------------------

  /** The job, or null when there is none with this id in this queue. */
  async getJob(id: string): Promise<Job<Data> | null> {
    validateJobId(id, 'id');
    const job = await this.store.get(id);
    return job && job.queue === this.name ? (job as Job<Data>) : null;
  }

  private async mustGet(id: string): Promise<Job<Data>> {
    const job = await this.getJob(id);
    if (!job) throw new NotFoundError(`job ${id} not found in queue ${this.name}`);
    return job;
  }

  async getJobs(options: ListOptions = {}): Promise<JobPage> {
    const states = options.state === undefined ? undefined : (Array.isArray(options.state) ? options.state : [options.state]).map(toState);
    return this.store.list({
      queue: this.name,
      ...(states ? { states } : {}),
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.text === undefined ? {} : { text: String(options.text) }),
      ...(options.order === undefined ? {} : { order: checkOrder(options.order) }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.cursor === undefined ? {} : { cursor: options.cursor }),
    });
  }

  async counts(): Promise<StateCounts> {
    return (await this.store.counts([this.name]))[this.name];
  }

  async getLogs(id: string, afterSeq = 0, limit = 1000): Promise<LogLine[]> {
    await this.mustGet(id);
    return this.store.logs(id, afterSeq, limit);
  }

  // ----- changing jobs ------------------------------------------------------------------

  /** Cancels a waiting job, or stops an active one (its handler's signal fires). */
  async cancel(id: string, reason = 'canceled'): Promise<Job<Data>> {
    return this.change(id, 'cancel', (ids) => this.store.cancel(ids, reason));
  }

  /** Puts a failed or canceled job back in the queue with a fresh attempt count. */
  async retry(id: string): Promise<Job<Data>> {
    return this.change(id, 'retry', (ids) => this.store.retry(ids));
  }

  /** Runs a pending (not started) or scheduled job now. */
  async promote(id: string): Promise<Job<Data>> {
    return this.change(id, 'promote', (ids) => this.store.promote(ids));
  }

  /** Starts a job added with `start: false` (the job manager's start_job): promote, said as start. */
  start(id: string): Promise<Job<Data>> {
    return this.change(id, 'promote', (ids) => this.store.promote(ids), 'start');
  }

  /** Deletes the job in any state; a running job is stopped first. */
  async remove(id: string): Promise<void> {
    await this.mustGet(id);
    const removed = await this.store.remove([id]);
    if (removed.length === 0) throw new NotFoundError(`job ${id} not found in queue ${this.name}`);
  }

  /** Retries every failed job of this queue; returns how many. */
  async retryAll(state: 'failed' | 'canceled' = 'failed'): Promise<number> {
    let n = 0;
    for (let cursor: string | null = null; ; ) {
      const page: JobPage = await this.getJobs({ state, limit: 1000, cursor });
      n += (await this.store.retry(page.jobs.map((j) => j.id))).length;
      if (!page.next) return n;
      cursor = page.next;
    }
  }

  /** Applies an operation to one job; a job in the wrong state is a StateError in the caller's words (`verb`). */
  private async change(id: string, op: keyof typeof TRANSITIONS, apply: (ids: string[]) => Promise<string[]>, verb: string = op): Promise<Job<Data>> {
    const before = await this.mustGet(id);
    const changed = await apply([id]);
    if (changed.length === 0) {
      const now = await this.mustGet(id);
      const allowed = TRANSITIONS[op].join(', ');
      throw new StateError(`cannot ${verb} job ${id}: it is ${now.state} (${verb} applies to ${allowed} jobs)`);
    }
    return (await this.getJob(id)) ?? before;
  }

  /** Removes finished jobs by state and age; returns how many. */
  async clean(options: CleanOptions = {}): Promise<number> {
    const states = options.states?.map(toState);
    if (states?.some((s) => !isFinished(s) && s !== 'pending' && s !== 'scheduled' && s !== 'deferred' && s !== 'queued')) {
      throw new ValidationError('clean does not remove active jobs; cancel them first', 'states');
    }
    if (options.olderThan !== undefined && (typeof options.olderThan !== 'number' || !(options.olderThan >= 0))) {
      throw new ValidationError('olderThan must be a number of ms >= 0', 'olderThan');
    }
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)) {
      throw new ValidationError('limit must be a positive integer', 'limit');
    }
    return this.store.clean({
      queue: this.name,
      ...(states ? { states } : {}),
      ...(options.olderThan === undefined ? {} : { olderThanMs: options.olderThan }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
    });
  }

  // ----- the queue itself ---------------------------------------------------------------

  async pause(): Promise<void> {
    await this.store.configureQueue(this.name, { paused: true });
  }

  async resume(): Promise<void> {
    await this.store.configureQueue(this.name, { paused: false });
  }

  async isPaused(): Promise<boolean> {
    return (await this.store.queueConfig(this.name)).paused;
  }

  /** Changes the queue's settings: concurrency, rate limit, max size, per-type limits, retention. */
  async configure(patch: Partial<QueueConfig>): Promise<QueueConfig> {
    return this.store.configureQueue(this.name, validateQueueConfigPatch(patch));
  }

  async settings(): Promise<QueueConfig> {
    return this.store.queueConfig(this.name);
  }

  // ----- schedules ----------------------------------------------------------------------

  /**
   * Creates or replaces a recurring job: by `cron` (in `tz`, default UTC) or `every` ms.
   * Idempotent: every process may call it at start-up; while the timing is unchanged the
   * schedule keeps its progress, so a restart neither repeats nor skips a run. The elected
   * Maintainer adds one job per run, whatever the number of processes (docs/schedules.md).
   */
  async schedule(id: string, spec: ScheduleSpec): Promise<Schedule> {
    const now = this.store.clock.now();
    const fresh = buildSchedule(this.name, id, spec, now);
    const existing = (await this.store.schedules(this.name)).find((s) => s.id === id) ?? null;
    const merged = mergeSchedule(existing, fresh, now);
    await this.store.saveSchedule(merged);
    return merged;
  }

  /** Removes a schedule (jobs it already added stay); false when there was none. */
  async unschedule(id: string): Promise<boolean> {
    validateJobId(id, 'id');
    return this.store.removeSchedule(this.name, id);
  }

  /** This queue's schedules, each with its next run time and progress. */
  async schedules(): Promise<Schedule[]> {
    return this.store.schedules(this.name);
  }

  async getSchedule(id: string): Promise<Schedule | null> {
    validateJobId(id, 'id');
    return (await this.store.schedules(this.name)).find((s) => s.id === id) ?? null;
  }

  /** Stops a schedule's runs until resumed; runs that fall while paused are not made up. */
  async pauseSchedule(id: string): Promise<Schedule> {
    return this.setSchedulePaused(id, true);
  }

  async resumeSchedule(id: string): Promise<Schedule> {
    return this.setSchedulePaused(id, false);
  }

  private async setSchedulePaused(id: string, paused: boolean): Promise<Schedule> {
    const existing = await this.getSchedule(id);
    if (!existing) throw new NotFoundError(`schedule ${id} not found in queue ${this.name}`);
    if (existing.paused === paused) return existing;
    const merged = mergeSchedule(existing, { ...existing, paused }, this.store.clock.now());
    await this.store.saveSchedule(merged);
    return merged;
  }

  // ----- waiting ------------------------------------------------------------------------

  /**
   * Resolves with the job once it is completed, failed or canceled. Rejects with
   * NotFoundError if the job is removed, TimeoutError after `timeoutMs`.
   */
  async waitUntilFinished(id: string, timeoutMs = 0): Promise<Job<Data>> {
    validateJobId(id, 'id');
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw new ValidationError('timeoutMs must be ms >= 0 (0: no limit)', 'timeoutMs');
    return new Promise<Job<Data>>((resolve, reject) => {
      let settled = false;
      let timer: Timer | null = null;
      let poll: ReturnType<typeof setInterval> | null = null;
      const finish = (err: Error | null, job?: Job<Data>) => {
        if (settled) return;
        settled = true;
        unsubscribe();
        timer?.cancel();
        if (poll) clearInterval(poll);
        if (err) reject(err);
        else resolve(job!);
      };
      const check = async () => {
        try {
          const job = await this.getJob(id);
          if (!job) finish(new NotFoundError(`job ${id} not found in queue ${this.name}`));
          else if (isFinished(job.state)) finish(null, job);
        } catch (err) {
          finish(err as Error);
        }
      };
      // Subscribe before the first read, so a finish between the two is not missed.
      const unsubscribe = this.store.subscribe((e) => {
        if (e.jobId === id && (e.type === 'completed' || e.type === 'failed' || e.type === 'canceled' || e.type === 'removed')) void check();
      });
      if (timeoutMs > 0) timer = this.store.clock.setTimer(() => finish(new TimeoutError(`job ${id} did not finish within ${timeoutMs} ms`)), timeoutMs);
      // A safety net for an event missed across processes (trimmed stream, reconnect): real
      // time, since it guards the transport, not the job.
      poll = setInterval(() => void check(), 1000);
      void check();
    });
  }

  // ----- events -------------------------------------------------------------------------

  private totalListeners(): number {
    const raw = this as EventEmitter;
    return raw.eventNames().reduce<number>((n, e) => (e === 'newListener' || e === 'removeListener' ? n : n + raw.listenerCount(e)), 0);
  }

  private listen(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.store.subscribe((e) => {
      if (e.queue === this.name) this.emit(e.type, e);
    });
  }

  private stopListening(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Stops listening to the store. The store itself stays open: its owner closes it. */
  async close(): Promise<void> {
    this.stopListening();
    this.removeAllListeners();
  }
}

function toState(s: string): JobState {
  const state = typeof s === 'string' ? parseState(s) : undefined;
  if (!state) throw new ValidationError(`unknown state "${String(s)}"`, 'state');
  return state;
}

function checkOrder(order: unknown): 'asc' | 'desc' {
  if (order !== 'asc' && order !== 'desc') throw new ValidationError('order must be "asc" or "desc"', 'order');
  return order;
}
