/**
 * The Worker: claims jobs from one or more queues and runs their handlers by job name.
 *
 * Hot path, batched by design: claims take as many jobs as there are free slots in one
 * store call; finishes, progress and log updates are group-committed (completer.ts); all
 * leases are extended in one call per heartbeat (heartbeat.ts). Idle workers sleep in
 * `store.wait`, which the backend wakes when work arrives: no polling loop of our own.
 * Running a job and deciding its outcome is executor.ts; upkeep is the Maintainer's.
 */
import { batchStatus, isBatchCallback, type BatchStatus } from '../batch.ts';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { sleep, type Clock } from '../core/clock.ts';
import { AbortedError } from '../core/errors.ts';
import type { ClaimedJob, Job } from '../core/job.ts';
import { Maintainer } from '../maintainer.ts';
import type { ClaimRequest, JobEvent, Store, WorkerInfo } from '../stores/store.ts';
import { claimRequests } from './claim-requests.ts';
import { Completer, type Rider } from './completer.ts';
import { Executor, toError, type Settlement } from './executor.ts';
import { Heartbeat } from './heartbeat.ts';
import { resolveOptions, type ResolvedOptions, type WorkerOptions } from './options.ts';

export type { BackoffFn, HandlerSpec, WorkerOptions } from './options.ts';

export interface WorkerEvents {
  active: [job: Job];
  completed: [job: Job, result: unknown];
  failed: [job: Job, error: Error, willRetry: boolean];
  error: [error: Error];
  drained: [];
  closed: [];
}

/** How long a hard shutdown waits for aborted handlers to return. */
const ABORT_GRACE_MS = 2_000;

/** The events a worker acts on: work arriving (a nudge), and jobs canceled or removed under it. */
const ABORT_EVENTS = ['canceled', 'removed'] as const;
const WORKER_EVENTS = ['added', 'promoted', 'retrying', 'resumed', ...ABORT_EVENTS] as const;

export class Worker extends EventEmitter<WorkerEvents> {
  readonly id: string;
  readonly name: string;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly o: ResolvedOptions;
  private readonly executor: Executor;
  private readonly completer: Completer;
  private readonly heartbeat: Heartbeat;
  private readonly maintainer: Maintainer | null;
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private wake: AbortController = new AbortController();
  private woken = false;
  /** The loop awaits `wake` (store.wait or sleep). */
  private sleeping = false;
  private unsubscribe: (() => void) | null = null;
  private readonly startedAt: number;
  private processed = 0;
  private failedCount = 0;
  /** processed + failed at the last report made on going idle. */
  private reportedCounts = 0;
  private idleResolvers: (() => void)[] = [];
  private closing: Promise<void> | null = null;
  /** Slots promised to claims in flight (the loop's, or one riding with outcomes). */
  private reserved = 0;
  /**
   * The queues look drained: the last claim took less than it asked for, or followed a wait
   * (work arrives a little at a time). Outcomes then carry the next claim (rider).
   */
  private shortClaim = false;
  /** The loop waited for work since its last claim. */
  private waited = false;
  /** Ids canceled or removed while not running here, newest last (noteEarlyAbort). */
  private readonly earlyAborts = new Set<string>();

  constructor(store: Store, options: WorkerOptions) {
    super();
    this.o = resolveOptions(options);
    this.store = store;
    this.clock = options.clock ?? store.clock;
    this.startedAt = this.clock.now();
    this.id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.name = options.name ?? this.id;
    const onError = (err: unknown) => this.emitError(err);
    this.completer = new Completer(store, onError);
    // A claim rides with outcomes only where that is one call, and only when no job type has
    // a concurrency of its own: such a type's room is counted from its running jobs alone.
    if (store.finishAndClaimInOneCall && [...this.o.runners.values()].every((r) => r.concurrency === null)) {
      this.completer.rider = () => this.rider();
    }
    this.executor = new Executor({
      runners: this.o.runners,
      backoffStrategies: this.o.backoffStrategies,
      clock: this.clock,
      workerName: this.name,
      report: (u) => this.completer.update(u),
      settled: (s) => void this.settled(s),
      onError,
    });
    this.heartbeat = new Heartbeat({
      store,
      clock: this.clock,
      intervalMs: this.o.heartbeatMs,
      leaseMs: this.o.leaseMs,
      leases: () => this.executor.leases(),
      lost: (id) => this.executor.abortFromOutside(id, 'lease', new AbortedError('lease lost: the job was canceled, removed or taken over')),
      info: () => this.info(),
      onError,
    });
    this.maintainer = this.o.maintainMs > 0 ? new Maintainer(store, { intervalMs: this.o.maintainMs, clock: this.clock, onError }) : null;
  }

  /** Starts taking jobs. Resolves once started; `closed()` resolves when it stops. */
  async start(): Promise<void> {
    if (this.loopDone) return;
    // Over a network every event a listener takes costs a read: take only what acts here.
    this.unsubscribe = this.store.subscribe((e) => this.onEvent(e), this.store.waitSeesMissedWork ? ABORT_EVENTS : WORKER_EVENTS);
    this.heartbeat.start();
    this.maintainer?.start();
    await this.store.reportWorker(this.info(), this.heartbeat.ttlMs).catch((err) => this.emitError(err));
    this.loopDone = this.loop();
  }

  /** Starts and resolves when the worker stops (burst mode: when the queues are empty). */
  async run(): Promise<void> {
    await this.start();
    await this.loopDone;
    await this.close();
  }

  get activeCount(): number {
    return this.executor.size;
  }

  info(): WorkerInfo {
    return {
      id: this.id,
      name: this.name,
      host: hostname(),
      pid: process.pid,
      queues: this.o.queues,
      concurrency: this.o.concurrency,
      active: this.executor.ids(),
      startedAt: this.startedAt,
      lastSeen: this.clock.now(),
      processed: this.processed,
      failed: this.failedCount,
    };
  }

  // ----- the claim loop -----------------------------------------------------------------

  /** Where the next fair claim starts in the queue list. */
  private nextQueue = 0;

  /** The queues in the order this claim tries them: rotated each claim when fair. */
  private claimOrder(): string[] {
    const qs = this.o.queues;
    if (this.o.queueOrder === 'strict' || qs.length === 1) return qs;
    const start = this.nextQueue++ % qs.length;
    return [...qs.slice(start), ...qs.slice(0, start)];
  }

  /** Claims for `free` slots; null when every type this worker handles is at its own limit. */
  private async claimFor(free: number): Promise<ClaimedJob[] | null> {
    const requests = claimRequests(this.o.runners, this.executor.byName, free);
    if (requests.length === 0) return null;
    const queues = this.claimOrder();
    const jobs: ClaimedJob[] = [];
    let asked = 0;
    this.reserved += free;
    try {
      for (const r of requests) {
        const limit = Math.min(r.limit, free - jobs.length);
        if (limit <= 0) break;
        asked += limit;
        jobs.push(...(await this.store.claim(this.claimRequest(queues, limit, r.names, requests.length === 1))));
      }
    } finally {
      this.reserved -= free;
    }
    this.shortClaim = jobs.length < asked || this.waited;
    this.waited = false;
    return jobs;
  }

  /**
   * One claim for every type: if it takes nothing this loop waits next, so the store may
   * hand work that arrives meanwhile straight to it (ClaimRequest.parkMs).
   */
  private claimRequest(queues: string[], limit: number, names: string[] | undefined, only: boolean): ClaimRequest {
    const park = only && !this.o.burst;
    return { queues, workerId: this.id, limit, leaseMs: this.o.leaseMs, names, ...(park ? { parkMs: this.o.idleMs } : {}) };
  }

  /**
   * The claim to send with the outcomes being written (Completer.rider), only once the
   * queues look drained (shortClaim). With a backlog the claim goes on its own, ahead of
   * the finish, so the next job starts sooner (riding made one-at-a-time processing 10-15%
   * slower); with drained queues the claim after a finish takes nothing and parks the
   * worker, and riding saves that round trip.
   */
  private rider(): Rider | null {
    const free = this.o.concurrency - this.executor.size - this.reserved;
    if (!this.shortClaim || this.stopping || free <= 0) return null;
    const requests = claimRequests(this.o.runners, this.executor.byName, free);
    if (requests.length !== 1) return null;
    const limit = Math.min(free, requests[0].limit);
    this.reserved += free;
    return {
      request: this.claimRequest(this.claimOrder(), limit, requests[0].names, true),
      done: (jobs, err) => {
        this.reserved -= free;
        if (err !== undefined) this.emitError(err);
        else this.shortClaim = jobs.length < limit;
        void this.launch(jobs);
        this.nudge();
      },
    };
  }

  /** Starts claimed jobs (at once, unless one needs a read first). */
  private launch(jobs: ClaimedJob[]): Promise<void> | undefined {
    if (this.earlyAborts.size > 0 || jobs.some(isBatchCallback)) return this.launchChecked(jobs);
    for (const job of jobs) {
      this.emit('active', job);
      this.executor.run(job);
    }
    return undefined;
  }

  private async launchChecked(jobs: ClaimedJob[]): Promise<void> {
    for (const job of jobs) {
      if (this.earlyAborts.delete(job.id) && !(await this.stillOurs(job))) continue;
      // A batch's callback receives its members' outcomes (rare: one job per batch).
      if (isBatchCallback(job)) await this.fillBatch(job);
      this.emit('active', job);
      this.executor.run(job);
    }
  }

  private async loop(): Promise<void> {
    let backoff = 0;
    while (!this.stopping) {
      // A nudge from here on (a slot freed while we claim) must cut the next sleep short.
      this.woken = false;
      // Let every job that finished in this turn free its slot first: one claim for many
      // slots is one round trip, where a claim per freed slot would be many. Outcomes about
      // to be written take the claim along when the queues look drained (rider): let their
      // write start first.
      if (this.executor.size > 0 || (this.shortClaim && this.completer.departing)) await new Promise((r) => setImmediate(r));
      const free = this.o.concurrency - this.executor.size - this.reserved;
      // A slot frees when its handler returns, before its outcome is written, so the next
      // claim overlaps the finish; outcomes in writing are bounded by the concurrency.
      if (free <= 0 || this.completer.writing > this.o.concurrency) {
        await this.sleep(this.o.idleMs);
        continue;
      }
      let jobs: ClaimedJob[] | null;
      try {
        jobs = await this.claimFor(free);
        backoff = 0;
      } catch (err) {
        this.emitError(err);
        // The backend is unreachable: back off, then try again; never give up.
        backoff = Math.min(5_000, backoff ? backoff * 2 : 100);
        await this.sleep(backoff);
        continue;
      }
      const launching = jobs && jobs.length > 0 ? this.launch(jobs) : undefined;
      if (launching) await launching;
      if (jobs && jobs.length > 0) continue;
      const busy = this.executor.size > 0 || this.completer.writing > 0 || this.reserved > 0;
      if (busy && jobs !== null) {
        // Others may still be finishing: sleep until a slot frees or work arrives.
        await this.waitForWork();
        continue;
      }
      this.emit('drained');
      // Going idle: report the counts soon (within REPORT_GAP_MS), so `info` does not lag
      // a heartbeat behind.
      if (!busy && this.processed + this.failedCount !== this.reportedCounts) {
        this.reportedCounts = this.processed + this.failedCount;
        this.heartbeat.reportSoon();
      }
      if (this.o.burst && !busy) break;
      await this.waitForWork();
    }
  }

  private async fillBatch(job: ClaimedJob): Promise<void> {
    try {
      const status = await batchStatus(this.store, job.id);
      if (status) (job.data as { batch: BatchStatus }).batch = status;
    } catch (err) {
      // A store that cannot read jobs (a remote worker): the handler gets the batch's id only.
      this.emitError(err);
    }
  }

  private async waitForWork(): Promise<void> {
    if (this.woken || this.stopping) return;
    this.waited = true;
    this.sleeping = true;
    try {
      await this.store.wait(this.o.queues, this.o.idleMs, this.wake.signal);
    } catch (err) {
      this.emitError(err);
      await sleep(this.clock, 500, this.wake.signal);
    } finally {
      this.sleeping = false;
    }
  }

  private async sleep(ms: number): Promise<void> {
    if (this.woken || this.stopping) return;
    this.sleeping = true;
    await sleep(this.clock, ms, this.wake.signal);
    this.sleeping = false;
  }

  /** Ends the loop's current sleep so it claims again. */
  private nudge(): void {
    this.woken = true;
    // Only a sleeping loop listens; a busy one sees `woken`. Saves a controller per job.
    if (!this.sleeping) return;
    const old = this.wake;
    this.wake = new AbortController();
    // A plain reason: abort() without one builds a DOMException, measurable on the hot path.
    old.abort(WAKE);
  }

  // ----- outcomes and events ------------------------------------------------------------

  private async settled(s: Settlement): Promise<void> {
    this.nudge();
    if (this.executor.size === 0) this.idleResolvers.splice(0).forEach((f) => f());
    if (!s.outcome) return;
    try {
      const applied = await this.completer.write(s.outcome);
      if (!applied) return;
      if (s.outcome.kind === 'completed') {
        this.processed++;
        this.emit('completed', s.job, s.result);
      } else {
        this.failedCount++;
        this.emit('failed', s.job, s.error!, s.willRetry);
      }
    } catch (err) {
      // The store is unreachable: the lease will expire and another attempt will run.
      this.emitError(err);
    } finally {
      this.nudge();
    }
  }

  /** What onEvent acts on (WORKER_EVENTS lists these for the store). */
  private onEvent(e: JobEvent): void {
    if (e.jobId === undefined) {
      if (e.type === 'resumed' && this.o.queues.includes(e.queue)) this.nudge();
      return;
    }
    if ((e.type === 'added' || e.type === 'promoted' || e.type === 'retrying') && this.o.queues.includes(e.queue)) {
      // Work that arrives between an empty claim and the store.wait() that follows would
      // otherwise sleep until idleMs: the store's wake-up fired before anyone waited.
      this.nudge();
      return;
    }
    if (e.type === 'canceled' || e.type === 'removed') {
      if (!this.executor.has(e.jobId) && this.o.queues.includes(e.queue)) this.noteEarlyAbort(e.jobId);
      this.executor.abortFromOutside(e.jobId, e.type, new AbortedError(e.type === 'canceled' ? `job canceled: ${e.message ?? 'canceled'}` : 'job removed'));
    }
  }

  /**
   * A cancel or removal of a job this worker does not run (yet): it may have claimed the job
   * a moment before, with the reply still on its way. Kept for the next claims to check.
   */
  private noteEarlyAbort(id: string): void {
    this.earlyAborts.add(id);
    if (this.earlyAborts.size > EARLY_ABORTS_KEPT) this.earlyAborts.delete(this.earlyAborts.values().next().value!);
  }

  /**
   * Whether a claimed job, canceled or removed about when it was claimed, is still this
   * attempt's to run: the event may predate the claim (a job canceled, then retried).
   */
  private async stillOurs(job: ClaimedJob): Promise<boolean> {
    try {
      const now = await this.store.get(job.id);
      return now !== null && now.state === 'active' && now.attempt === job.attempt && now.workerId === this.id;
    } catch (err) {
      // Cannot tell: run it; a finish of a job that moved on is fenced out anyway.
      this.emitError(err);
      return true;
    }
  }

  private emitError(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', toError(err));
  }

  // ----- shutdown -----------------------------------------------------------------------

  /**
   * Stops claiming, lets running jobs finish for up to the shutdown timeout, then aborts
   * the rest and hands them back for another attempt.
   */
  close(timeoutMs = this.o.shutdownTimeoutMs): Promise<void> {
    this.closing ??= this.doClose(timeoutMs);
    return this.closing;
  }

  private idle(ms: number): Promise<void> {
    if (this.executor.size === 0) return Promise.resolve();
    const done = new AbortController();
    const idle = new Promise<void>((r) => this.idleResolvers.push(r)).then(() => done.abort());
    return Promise.race([idle, sleep(this.clock, ms, done.signal)]);
  }

  private async doClose(timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.nudge();
    await this.loopDone;
    // A claim that rode with outcomes may still be on its way: its jobs start, then count
    // as running below.
    await this.completer.drained();
    await this.idle(timeoutMs);
    if (this.executor.size > 0) {
      this.executor.releasing = true;
      const aborted = this.idle(ABORT_GRACE_MS);
      this.executor.abortAll(new AbortedError('worker shutting down'));
      await aborted;
    }
    await this.completer.drained();
    this.heartbeat.stop();
    await this.heartbeat.settled();
    await this.maintainer?.stop();
    this.unsubscribe?.();
    await this.store.removeWorker(this.id).catch(() => {});
    for (const { runner } of this.o.runners.values()) await runner.close().catch(() => {});
    this.emit('closed');
  }
}

const WAKE = 'wake';
/** Early aborts remembered: enough for any claim in flight, bounded against retention's removals. */
const EARLY_ABORTS_KEPT = 1000;
