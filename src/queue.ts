/**
 * The Queue: what a producer or an operator holds. It validates every input at the
 * boundary (so a store only ever sees well-formed jobs) and turns "nothing changed"
 * answers from the store into typed errors that say why.
 */
import { EventEmitter } from 'node:events';
import type { Timer } from './core/clock.ts';
import { buildSchedule, type Schedule, type ScheduleSpec } from './core/schedule.ts';
import { mergeSchedule } from './engine/schedule.ts';
import { tracedAdd } from './telemetry/tracing.ts';
import { batchStatus, buildBatch, type BatchCallback, type BatchStatus } from './batch.ts';
import { NotFoundError, StateError, TimeoutError, ValidationError } from './core/errors.ts';
import type { EnqueueResult, Job, LogLine } from './core/job.ts';
import { buildNewJob, DEFAULT_LIMITS, validateJobId, validateQueueName, type JobOptions, type ValidateLimits } from './core/options.ts';
import { validateQueueConfigPatch, type QueueConfig } from './core/queue-config.ts';
import { isFinished, parseState, TRANSITIONS, type JobState } from './core/states.ts';
import type { GroupPage, JobEvent, JobEventType, JobPage, StateCounts, Store } from './stores/store.ts';

export interface QueueOptions {
  /** Options every job added through this Queue starts from. */
  defaultJobOptions?: JobOptions;
  /** Largest job data accepted, in bytes of JSON (default 1 MiB). */
  maxDataBytes?: number;
}

/** A job's options, and the transaction to add it in. */
export interface AddOptions extends JobOptions {
  /** Your own open transaction (see Queue.add): the job exists only if it commits. */
  tx?: unknown;
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

/** How long a queue's jobs wait (Queue.latency); null where there is nothing to measure. */
export interface QueueLatency {
  /** Age of the oldest queued job, from when it became due. */
  oldestWaitingMs: number | null;
  waitP50Ms: number | null;
  waitP95Ms: number | null;
  /** Completed jobs the percentiles come from. */
  sampled: number;
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

  /**
   * Adds one job. With a `jobId` that exists already, nothing is added (`duplicate: true`).
   * With `tx` (PostgreSQL: a pg client inside your BEGIN; SQLite: your DatabaseSync on the
   * same file), the job is added in your transaction: it exists only if you commit.
   */
  async add(name: string, data?: Data, opts?: AddOptions): Promise<EnqueueResult> {
    const { tx, ...jobOpts } = opts ?? {};
    const job = buildNewJob(this.name, name, data, jobOpts, this.defaults, this.limits, this.store.clock.now());
    const [result] = await tracedAdd(this.name, 1, (trace) => this.store.enqueue([{ ...job, trace }], tx === undefined ? {} : { tx }));
    return result;
  }

  /** Adds many jobs in one atomic step: all are added, or (on a refusal) none. `tx` as for add(). */
  async addBulk(jobs: BulkJob<Data>[], options: { tx?: unknown } = {}): Promise<EnqueueResult[]> {
    if (!Array.isArray(jobs)) throw new ValidationError('addBulk takes an array of {name, data, opts}', 'jobs');
    if (jobs.length === 0) return [];
    const now = this.store.clock.now();
    const built = jobs.map((j, i) => {
      if (j === null || typeof j !== 'object') throw new ValidationError(`jobs[${i}] must be an object {name, data, opts}`, `jobs[${i}]`);
      return buildNewJob(this.name, j.name, j.data, j.opts, this.defaults, this.limits, now);
    });
    return tracedAdd(this.name, built.length, (trace) =>
      this.store.enqueue(trace === null ? built : built.map((j) => ({ ...j, trace })), options?.tx === undefined ? {} : { tx: options.tx }),
    );
  }

  /**
   * Adds jobs as a batch, with `onComplete`: one job that runs once all of them finished
   * (completed, failed or canceled); a Worker hands it `data.batch`, the members' ids per
   * outcome. All are added in one atomic step. Returns the batch's id (its callback job's id).
   */
  async addBatch(jobs: BulkJob<Data>[], options: { onComplete: BatchCallback; tx?: unknown }): Promise<{ id: string; jobs: EnqueueResult[] }> {
    if (!Array.isArray(jobs)) throw new ValidationError('addBatch takes an array of {name, data, opts}', 'jobs');
    if (options === null || typeof options !== 'object') throw new ValidationError('addBatch needs { onComplete }', 'options');
    const now = this.store.clock.now();
    const members = jobs.map((j, i) => {
      if (j === null || typeof j !== 'object') throw new ValidationError(`jobs[${i}] must be an object {name, data, opts}`, `jobs[${i}]`);
      return buildNewJob(this.name, j.name, j.data, j.opts, this.defaults, this.limits, now);
    });
    const batch = buildBatch(members, options.onComplete, this.name, now);
    const results = await tracedAdd(this.name, batch.jobs.length, (trace) =>
      this.store.enqueue(trace === null ? batch.jobs : batch.jobs.map((j) => ({ ...j, trace })), options.tx === undefined ? {} : { tx: options.tx }),
    );
    return { id: batch.id, jobs: results.slice(0, -1) };
  }

  /** A batch's progress: its members' ids per outcome; null when `id` is not a batch. */
  getBatch(id: string): Promise<BatchStatus | null> {
    validateJobId(id);
    return batchStatus(this.store, id);
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

  /**
   * How long jobs wait: the age of the oldest waiting (queued) job, and the median and 95th
   * percentile wait of the `sample` most recently created completed jobs, where a job's
   * wait runs from its creation (or its run-at time, while a store still has it) to its
   * last start: a delayed or retried job that became due counts its delay as waiting, as
   * stores keep no due time once a job is queued. Read from the store, so every server and
   * process reports the same figures.
   */
  /**
   * The groups (tenants) of this queue that have ready or running jobs, with their counts,
   * most ready first (at most `limit`, 1–1000). `sampled`: counted from the first 10,000
   * jobs per state (Redis).
   */
  async groups(limit = 50): Promise<GroupPage> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError('limit must be an integer from 1 to 1000', 'limit');
    return this.store.groups(this.name, limit);
  }

  async latency(sample = 100): Promise<QueueLatency> {
    if (!Number.isInteger(sample) || sample < 1 || sample > 1000) throw new ValidationError('sample must be an integer from 1 to 1000', 'sample');
    const [oldest, done] = await Promise.all([
      this.store.list({ queue: this.name, states: ['queued'], order: 'asc', limit: 1 }),
      this.store.list({ queue: this.name, states: ['completed'], order: 'desc', limit: sample }),
    ]);
    const now = this.store.clock.now();
    const due = (j: Job) => Math.max(j.createdAt, j.runAt ?? 0);
    const waits = done.jobs.filter((j) => j.startedAt !== null).map((j) => Math.max(0, j.startedAt! - due(j))).sort((a, b) => a - b);
    const pct = (p: number) => (waits.length === 0 ? null : waits[Math.min(waits.length - 1, Math.ceil((p / 100) * waits.length) - 1)]);
    return {
      oldestWaitingMs: oldest.jobs.length === 0 ? null : Math.max(0, now - due(oldest.jobs[0])),
      waitP50Ms: pct(50),
      waitP95Ms: pct(95),
      sampled: waits.length,
    };
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
    const valid = validateQueueConfigPatch(patch);
    if (valid.deadLetter === this.name) throw new ValidationError(`deadLetter must name another queue than ${this.name}`, 'deadLetter');
    // The dead-letter queue exists (listed, counted) before the first job reaches it.
    if (valid.deadLetter) await this.store.configureQueue(valid.deadLetter, {});
    return this.store.configureQueue(this.name, valid);
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
