/**
 * The in-memory backend: the reference implementation of the Store contract, and the
 * fastest one. Nothing survives the process. Every method runs synchronously to the end
 * before it resolves, which is what makes each one atomic.
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../../core/clock.ts';
import { NotFoundError } from '../../core/errors.ts';
import { progressOf, sameProgress, type Schedule, type ScheduleProgress } from '../../core/schedule.ts';
import type { ClaimedJob, EnqueueResult, Job, LogLine, NewJob } from '../../core/job.ts';
import { DEFAULT_QUEUE_CONFIG, defaultQueueConfig, type QueueConfig } from '../../core/queue-config.ts';
import { isFinished, WAITING_STATES, type JobState } from '../../core/states.ts';
import { EXPIRED, stallOutcome, startAttempt } from '../../engine/transitions.ts';
import { JobMachine, type JobRows } from '../job-machine.ts';
import { clampProgress, countGroup, decodeCursor, encodeCursor, MAX_LOG_LINES, pageLimit, refuseTx, topGroups, truncateLine } from '../rules.ts';
import {
  type GroupCounts,
  type GroupPage,
  emptyCounts,
  type MinuteCounts,
  type ClaimRequest,
  type CleanRequest,
  type EnqueueOptions,
  type JobEvent,
  type JobPage,
  type JobUpdate,
  type Lease,
  type ListFilter,
  type MaintainReport,
  type Outcome,
  type QueueInfo,
  type StateCounts,
  type Store,
  type WorkerInfo,
  type FinishAndClaim,
  finishThenClaim,
} from '../store.ts';
import { fairTurn, type GroupTurn } from '../../engine/fair-turns.ts';
import { keyIsSpent, planDedupe, settleDedupe, type DedupeEntry } from '../dedupe.ts';
import { openWindow, queueWindow, type RateWindow } from '../../engine/rate-window.ts';
import { MinHeap } from './heap.ts';
import { ReadyList } from './ready-list.ts';
import { Waiters } from '../waiters.ts';
import { byMinute, historyStart, tallyEvents } from '../minutes.ts';

interface Rec {
  job: Job;
  dataJson: string;
  token: string | null;
  readySeq: number;
  createdSeq: number;
  logs: LogLine[];
}

interface QueueState {
  config: QueueConfig;
  counts: StateCounts;
  ready: ReadyList;
  active: Set<string>;
  /** Active jobs per group key, for group concurrency. */
  groups: Map<string, number>;
  /** Each group's last turn, per priority (engine/fair-turns.ts). */
  turns: Map<number, Map<string, GroupTurn>>;
  rateWindowStart: number;
  rateCount: number;
  /** Each group's rate window (groupRateLimit). */
  groupRates: Map<string, RateWindow>;
}

export interface MemoryStoreOptions {
  /** The store's time (default: the real clock); a TestClock in tests. */
  clock?: Clock;
}

export class MemoryStore implements Store {
  readonly kind = 'memory';
  readonly location = 'memory';
  readonly clock: Clock;
  private jobs = new Map<string, Rec>();
  private queuesByName = new Map<string, QueueState>();
  private scheduled = new MinHeap();
  /** Dedupe keys: "queue\0key" → the job that took it (stores/dedupe.ts). */
  private dedupeKeys = new Map<string, DedupeEntry>();
  private expiring = new MinHeap();
  /** Finished jobs per queue and minute (history()), by "queue\nminute". */
  private minutes = new Map<string, MinuteCounts>();
  /** Waiting jobs' latest starts (expiresIn / expiresAt). */
  private deadlines = new MinHeap();
  private waitingOn = new Map<string, Set<string>>();
  private seq = 0;
  private readonly tokenBase = `${randomUUID()}:`;
  private tokenSeq = 0;
  private listeners = new Set<(e: JobEvent) => void>();
  private readonly waiters: Waiters;
  private workerInfo = new Map<string, { info: WorkerInfo; until: number }>();
  private leaders = new Map<string, { holder: string; until: number }>();
  private scheduleMap = new Map<string, Schedule>();

  private readonly machine: JobMachine;

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.waiters = new Waiters(this.clock);
    this.machine = new JobMachine(this.rows());
  }

  // ----- helpers ------------------------------------------------------------------------

  private q(name: string): QueueState {
    let q = this.queuesByName.get(name);
    if (!q) {
      q = {
        config: defaultQueueConfig(),
        counts: emptyCounts(),
        ready: new ReadyList(),
        active: new Set(),
        groups: new Map(),
        turns: new Map(),
        rateWindowStart: 0,
        rateCount: 0,
        groupRates: new Map(),
      };
      this.queuesByName.set(name, q);
    }
    return q;
  }

  private emit(e: JobEvent): void {
    if (e.type === 'completed' || e.type === 'failed') {
      for (const t of tallyEvents([e])) {
        const key = `${t.queue}\n${t.at}`;
        const had = this.minutes.get(key);
        if (had) {
          had.completed += t.completed;
          had.failed += t.failed;
        } else this.minutes.set(key, t);
      }
    }
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A listener's failure must not break the store.
      }
    }
  }

  /** The rows the shared state machine works on: live job objects, indexed here. */
  private rows(): JobRows {
    return {
      load: (id) => this.jobs.get(id)?.job ?? null,
      leased: (id, token) => this.leased(id, token)?.job ?? null,
      stateOf: (id) => this.jobs.get(id)?.job.state,
      config: (queue) => this.q(queue).config,
      write: (job, from, token) => this.index(this.jobs.get(job.id)!, from, token),
      insert: (job, dataJson) => {
        const rec: Rec = { job, dataJson, token: null, readySeq: 0, createdSeq: ++this.seq, logs: [] };
        this.jobs.set(job.id, rec);
        if (job.startBy !== null) this.deadlines.push(job.startBy, job.id);
        this.q(job.queue).counts[job.state]++;
        this.enter(rec);
      },
      delete: (job) => this.unindex(this.jobs.get(job.id)!),
      link: (child, parents) => {
        for (const d of parents) {
          let set = this.waitingOn.get(d);
          if (!set) this.waitingOn.set(d, (set = new Set()));
          set.add(child);
        }
      },
      takeChildren: (parentId) => {
        const children = this.waitingOn.get(parentId);
        this.waitingOn.delete(parentId);
        return children ? [...children] : [];
      },
      moveQueue: (job, from) => {
        this.q(from).counts[job.state]--;
        this.q(job.queue).counts[job.state]++;
        // The old expiry entry is skipped when read (it no longer matches the job).
        if (job.expiresAt !== null) this.expiring.push(job.expiresAt, job.id);
      },
      replaceData: (job, dataJson) => {
        this.jobs.get(job.id)!.dataJson = dataJson;
      },
      emit: (e) => this.emit(e),
    };
  }

  /** Keeps counts and indexes right for a job that moved from `from` to its state. */
  private index(rec: Rec, from: JobState, token: string | null): void {
    const job = rec.job;
    const q = this.q(job.queue);
    if (from === 'active') this.leaveActive(q, job);
    rec.token = job.state === 'active' ? token : null;
    q.counts[from]--;
    q.counts[job.state]++;
    this.enter(rec);
  }

  /** A grouped job's turn in its queue's ready order. */
  private turn(q: QueueState, job: Job, next: number): number {
    let turns = q.turns.get(job.priority);
    if (!turns) q.turns.set(job.priority, (turns = new Map()));
    const t = fairTurn(q.ready.head(job.priority), next, turns.get(job.groupKey!), q.config.groupWeights[job.groupKey!]);
    turns.set(job.groupKey!, t);
    return t.last;
  }

  /** Puts a job into the indexes of its (new) state. */
  private enter(rec: Rec): void {
    const job = rec.job;
    const q = this.q(job.queue);
    if (job.state === 'queued') {
      rec.readySeq = ++this.seq;
      q.ready.push(job.priority, job.id, rec.readySeq, job.groupKey === null ? rec.readySeq : this.turn(q, job, rec.readySeq));
      this.waiters.notify(job.queue);
    } else if (job.state === 'scheduled') {
      this.scheduled.push(job.runAt!, job.id);
      this.waiters.notifyAt(job.queue, job.runAt!);
    } else if (job.state === 'active') {
      q.active.add(job.id);
      if (job.groupKey !== null) q.groups.set(job.groupKey, (q.groups.get(job.groupKey) ?? 0) + 1);
    } else if (job.expiresAt !== null) {
      this.expiring.push(job.expiresAt, job.id);
    }
  }

  private leaveActive(q: QueueState, job: Job): void {
    q.active.delete(job.id);
    if (job.groupKey === null) return;
    const n = (q.groups.get(job.groupKey) ?? 1) - 1;
    if (n <= 0) q.groups.delete(job.groupKey);
    else q.groups.set(job.groupKey, n);
  }

  /** Forgets a job: counts, active set, dependency edges (stale heap and ready entries are skipped when read). */
  private unindex(rec: Rec): void {
    const job = rec.job;
    const q = this.q(job.queue);
    if (job.state === 'active') this.leaveActive(q, job);
    q.counts[job.state]--;
    this.jobs.delete(job.id);
    for (const d of job.dependsOn) this.waitingOn.get(d)?.delete(job.id);
  }

  private view(rec: Rec): Job {
    const j = rec.job;
    return {
      ...j,
      data: JSON.parse(rec.dataJson),
      result: copy(j.result),
      errors: j.errors.map((e) => ({ ...e })),
      dependsOn: [...j.dependsOn],
      backoff: j.backoff === null ? null : j.backoff.type === 'intervals' ? { ...j.backoff, intervals: [...j.backoff.intervals] } : { ...j.backoff },
      logCount: rec.logs.length,
    };
  }

  private promoteDue(queues: Set<string> | null, now: number): number {
    let n = 0;
    const deferredPush: [number, string][] = [];
    while (this.scheduled.size > 0 && this.scheduled.peekKey()! <= now) {
      const id = this.scheduled.pop()!;
      const rec = this.jobs.get(id);
      if (!rec || rec.job.state !== 'scheduled' || rec.job.runAt! > now) continue;
      if (queues && !queues.has(rec.job.queue)) {
        deferredPush.push([rec.job.runAt!, id]);
        continue;
      }
      this.machine.due(rec.job, now);
      n++;
    }
    for (const [k, id] of deferredPush) this.scheduled.push(k, id);
    return n;
  }

  // ----- writes -------------------------------------------------------------------------

  async enqueue(jobs: NewJob[], options?: EnqueueOptions): Promise<EnqueueResult[]> {
    refuseTx(options, 'memory');
    const view = {
      exists: (id: string) => this.jobs.has(id),
      config: (queue: string) => this.q(queue).config,
      unfinished: (queue: string, name?: string) => this.unfinishedCount(queue, name),
      oldestWaiting: (queue: string, name: string | undefined, n: number, skip: ReadonlySet<string>) => this.oldestWaiting(queue, name, n, skip),
    };
    const now = this.clock.now();
    const stateOf = (id: string) => this.jobs.get(id)?.job.state;
    const plan = planDedupe(jobs, now, (queue, key) => this.dedupeKeys.get(`${queue}\u0000${key}`) ?? null, stateOf);
    const settled = settleDedupe(jobs.length, plan, this.machine.enqueue(plan.fresh, now, view, stateOf));
    for (const p of plan.push) this.machine.debounce(p.id, p.dataJson, p.runAt, now);
    for (const t of settled.take) this.dedupeKeys.set(`${t.queue}\u0000${t.key}`, t.entry);
    return settled.results;
  }

  private unfinishedCount(queue: string, name?: string): number {
    const q = this.q(queue);
    if (name === undefined) return WAITING_STATES.reduce((s, st) => s + q.counts[st], 0) + q.counts.active;
    let n = 0;
    for (const r of this.jobs.values()) if (r.job.queue === queue && r.job.name === name && !isFinished(r.job.state)) n++;
    return n;
  }

  private oldestWaiting(queue: string, name: string | undefined, n: number, skip: ReadonlySet<string>): string[] {
    const out: string[] = [];
    // Map iteration is insertion order, which is creation order.
    for (const r of this.jobs.values()) {
      if (out.length >= n) break;
      const j = r.job;
      if (j.queue !== queue || (name !== undefined && j.name !== name) || skip.has(j.id)) continue;
      if ((WAITING_STATES as readonly string[]).includes(j.state)) out.push(j.id);
    }
    return out;
  }

  async claim(req: ClaimRequest): Promise<ClaimedJob[]> {
    const now = this.clock.now();
    this.promoteDue(new Set(req.queues), now);
    const out: ClaimedJob[] = [];
    const names = req.names && req.names.length > 0 ? new Set(req.names) : null;
    for (const queue of req.queues) {
      if (out.length >= req.limit) break;
      const q = this.queuesByName.get(queue);
      if (!q || q.config.paused) continue;
      let budget = req.limit - out.length;
      if (q.config.concurrency !== null) budget = Math.min(budget, q.config.concurrency - q.active.size);
      const rate = q.config.rateLimit;
      if (rate) {
        const w = queueWindow({ start: q.rateWindowStart, count: q.rateCount }, rate, now);
        q.rateWindowStart = w.window.start;
        q.rateCount = w.window.count;
        budget = Math.min(budget, w.room);
        if (w.fullUntil !== null) this.waiters.notifyAt(queue, w.fullUntil);
      }
      if (budget <= 0) continue;
      const groupLimit = q.config.groupConcurrency;
      const groupRate = q.config.groupRateLimit;
      q.ready.scan((id, seq) => {
        if (budget <= 0) return 'stop';
        const rec = this.jobs.get(id);
        if (!rec || rec.job.state !== 'queued' || rec.readySeq !== seq) return 'stale';
        if (rec.job.startBy !== null && rec.job.startBy <= now) {
          this.machine.cancel([id], EXPIRED, now);
          return 'stale';
        }
        if (names && !names.has(rec.job.name)) return false;
        if (groupLimit !== null && rec.job.groupKey !== null && (q.groups.get(rec.job.groupKey) ?? 0) >= groupLimit) return false;
        let window: RateWindow | undefined;
        if (groupRate && rec.job.groupKey !== null) {
          window = openWindow(q.groupRates.get(rec.job.groupKey), groupRate, now);
          q.groupRates.set(rec.job.groupKey, window);
          if (window.count >= groupRate.max) {
            this.waiters.notifyAt(queue, window.start + groupRate.durationMs);
            return false;
          }
        }
        // Unique per claim is all a fencing token needs here: a counter, not a UUID per job.
        startAttempt(rec.job, req.workerId, now, req.leaseMs);
        this.machine.move(rec.job, 'active', now, `${this.tokenBase}${++this.tokenSeq}`);
        budget--;
        if (rate) q.rateCount++;
        if (window) window.count++;
        out.push({ ...this.view(rec), token: rec.token! });
        this.emit({ type: 'active', queue, jobId: id, at: now, state: 'active' });
        return true;
      });
    }
    return out;
  }

  private leased(id: string, token: string): Rec | null {
    const rec = this.jobs.get(id);
    return rec && rec.job.state === 'active' && rec.token === token ? rec : null;
  }

  async extend(leases: Lease[], leaseMs: number): Promise<boolean[]> {
    const now = this.clock.now();
    return leases.map((l) => {
      const rec = this.leased(l.id, l.token);
      if (rec) rec.job.leaseUntil = now + leaseMs;
      return rec !== null;
    });
  }

  /** In process the two calls cost no more than one would. */
  finishAndClaim(outcomes: Outcome[], next: ClaimRequest): Promise<FinishAndClaim> {
    return finishThenClaim(this, outcomes, next);
  }

  async finish(outcomes: Outcome[]): Promise<boolean[]> {
    const now = this.clock.now();
    // Results are kept as copies: the caller may change its objects afterwards.
    return outcomes.map((o) => this.machine.finish(o.kind === 'completed' ? { ...o, result: copy(o.result) } : o, now));
  }

  async update(updates: JobUpdate[]): Promise<boolean[]> {
    const now = this.clock.now();
    return updates.map((u) => {
      const rec = u.token === undefined ? this.jobs.get(u.id) : this.leased(u.id, u.token);
      if (!rec) return false;
      const job = rec.job;
      if (u.progress !== undefined || u.message !== undefined) {
        if (u.progress !== undefined) job.progress = clampProgress(u.progress);
        if (u.message !== undefined) job.message = u.message;
        this.emit({ type: 'progress', queue: job.queue, jobId: job.id, at: now, progress: job.progress, message: job.message });
      }
      if (u.logs && u.logs.length > 0) {
        // Numbers go on from the newest line, not from the count: trimming keeps them unique.
        let seq = rec.logs.length > 0 ? rec.logs[rec.logs.length - 1].seq : 0;
        for (const l of u.logs) rec.logs.push({ seq: ++seq, at: now, stream: l.stream, line: truncateLine(l.line) });
        if (rec.logs.length > MAX_LOG_LINES) rec.logs.splice(0, rec.logs.length - MAX_LOG_LINES);
        this.emit({ type: 'log', queue: job.queue, jobId: job.id, at: now });
      }
      return true;
    });
  }

  async cancel(ids: string[], reason = 'canceled'): Promise<string[]> {
    return this.machine.cancel(ids, reason, this.clock.now());
  }

  async remove(ids: string[]): Promise<string[]> {
    const now = this.clock.now();
    return this.machine.each(ids, null, now, (job) => this.machine.remove(job, now));
  }

  async retry(ids: string[]): Promise<string[]> {
    return this.machine.retry(ids, this.clock.now());
  }

  async promote(ids: string[]): Promise<string[]> {
    return this.machine.promote(ids, this.clock.now());
  }

  async clean(req: CleanRequest): Promise<number> {
    const now = this.clock.now();
    const states = new Set<JobState>(req.states ?? ['completed', 'failed', 'canceled']);
    states.delete('active');
    const cutoff = now - (req.olderThanMs ?? 0);
    const victims: Rec[] = [];
    for (const r of this.jobs.values()) {
      if (req.limit !== undefined && victims.length >= req.limit) break;
      const j = r.job;
      if (j.queue !== req.queue || !states.has(j.state)) continue;
      if ((j.finishedAt ?? j.createdAt) <= cutoff) victims.push(r);
    }
    for (const v of victims) if (this.jobs.has(v.job.id)) this.machine.remove(v.job, now);
    return victims.length;
  }

  async configureQueue(queue: string, patch: Partial<QueueConfig>): Promise<QueueConfig> {
    const q = this.q(queue);
    const wasPaused = q.config.paused;
    q.config = { ...q.config, ...structuredClone(patch) };
    const now = this.clock.now();
    if (patch.paused !== undefined && patch.paused !== wasPaused) {
      this.emit({ type: patch.paused ? 'paused' : 'resumed', queue, at: now });
      if (!patch.paused) this.waiters.notify(queue);
    }
    if (patch.concurrency !== undefined || patch.rateLimit !== undefined || patch.groupRateLimit !== undefined || patch.groupConcurrency !== undefined) this.waiters.notify(queue);
    return structuredClone(q.config);
  }

  // ----- reads --------------------------------------------------------------------------

  async get(id: string): Promise<Job | null> {
    const rec = this.jobs.get(id);
    return rec ? this.view(rec) : null;
  }

  async list(filter: ListFilter): Promise<JobPage> {
    const limit = pageLimit(filter.limit);
    const after = decodeCursor(filter.cursor);
    const desc = (filter.order ?? 'desc') === 'desc';
    const states = filter.states && filter.states.length > 0 ? new Set(filter.states) : null;
    const text = filter.text ? filter.text.toLowerCase() : null;
    const all = [...this.jobs.values()];
    if (desc) all.reverse();
    const out: Rec[] = [];
    let more = false;
    for (const r of all) {
      if (after && (desc ? r.createdSeq >= after[0] : r.createdSeq <= after[0])) continue;
      const j = r.job;
      if (filter.queue !== undefined && j.queue !== filter.queue) continue;
      if (states && !states.has(j.state)) continue;
      if (filter.name !== undefined && j.name !== filter.name) continue;
      if (text && !j.id.toLowerCase().includes(text) && !r.dataJson.toLowerCase().includes(text)) continue;
      if (out.length === limit) {
        more = true;
        break;
      }
      out.push(r);
    }
    const last = out[out.length - 1];
    return { jobs: out.map((r) => this.view(r)), next: more && last ? encodeCursor(last.createdSeq, last.job.id) : null };
  }

  async logs(id: string, afterSeq = 0, limit = 1000): Promise<LogLine[]> {
    const rec = this.jobs.get(id);
    if (!rec) throw new NotFoundError(`job ${id} not found`);
    return rec.logs.filter((l) => l.seq > afterSeq).slice(0, limit).map((l) => ({ ...l }));
  }

  async counts(queues?: string[]): Promise<Record<string, StateCounts>> {
    const out: Record<string, StateCounts> = {};
    for (const name of queues ?? this.queuesByName.keys()) {
      out[name] = { ...(this.queuesByName.get(name)?.counts ?? emptyCounts()) };
    }
    return out;
  }

  async queues(): Promise<QueueInfo[]> {
    return [...this.queuesByName.entries()]
      .map(([name, q]) => ({ name, config: structuredClone(q.config), counts: { ...q.counts } }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async queueConfig(queue: string): Promise<QueueConfig> {
    return structuredClone(this.queuesByName.get(queue)?.config ?? DEFAULT_QUEUE_CONFIG);
  }

  // ----- upkeep -------------------------------------------------------------------------

  async groups(queue: string, limit?: number): Promise<GroupPage> {
    const counts = new Map<string, GroupCounts>();
    for (const r of this.jobs.values()) {
      const j = r.job;
      if (j.queue === queue && j.groupKey !== null && (j.state === 'queued' || j.state === 'active')) countGroup(counts, j.groupKey, j.state);
    }
    return { groups: topGroups(counts, limit), sampled: false };
  }

  async maintain(now = this.clock.now()): Promise<MaintainReport> {
    while (this.deadlines.size > 0 && this.deadlines.peekKey()! <= now) {
      const id = this.deadlines.pop()!;
      const rec = this.jobs.get(id);
      if (rec && (WAITING_STATES as readonly string[]).includes(rec.job.state)) this.machine.cancel([id], EXPIRED, now);
    }
    const promoted = this.promoteDue(null, now);
    let reclaimed = 0;
    for (const q of this.queuesByName.values()) {
      for (const id of [...q.active]) {
        const rec = this.jobs.get(id)!;
        if (rec.job.leaseUntil === null || rec.job.leaseUntil > now || rec.token === null) continue;
        if (this.machine.finish(stallOutcome(rec.job, rec.token, now), now)) reclaimed++;
      }
    }
    let expired = 0;
    while (this.expiring.size > 0 && this.expiring.peekKey()! <= now) {
      const id = this.expiring.pop()!;
      const rec = this.jobs.get(id);
      if (!rec || rec.job.expiresAt === null || rec.job.expiresAt > now || !isFinished(rec.job.state)) continue;
      this.machine.remove(rec.job, now);
      expired++;
    }
    for (const [id, w] of this.workerInfo) if (w.until <= now) this.workerInfo.delete(id);
    for (const [key, t] of this.minutes) if (t.at < historyStart(0, now)) this.minutes.delete(key);
    // Dedupe keys that can hold no more (stores/dedupe.ts).
    for (const [slot, e] of this.dedupeKeys) if (keyIsSpent(e, this.jobs.get(e.id)?.job.state, now)) this.dedupeKeys.delete(slot);
    // Turns at or behind their line's head would change no later turn; ended rate windows
    // count for nothing.
    for (const q of this.queuesByName.values()) {
      const groupRate = q.config.groupRateLimit;
      for (const [group, w] of q.groupRates) if (!groupRate || now - w.start >= groupRate.durationMs) q.groupRates.delete(group);
      for (const [priority, turns] of q.turns) {
        const head = q.ready.head(priority);
        for (const [group, t] of turns) if (head === null || t.last <= head) turns.delete(group);
        if (turns.size === 0) q.turns.delete(priority);
      }
    }
    return { promoted, reclaimed, expired };
  }

  async dependents(id: string): Promise<string[]> {
    return [...(this.waitingOn.get(id) ?? [])].sort();
  }

  async history(since: number, queues?: string[]): Promise<MinuteCounts[]> {
    const only = queues ? new Set(queues) : null;
    return [...this.minutes.values()].filter((t) => t.at >= historyStart(since, this.clock.now()) && (!only || only.has(t.queue))).map((t) => ({ ...t })).sort(byMinute);
  }

  wait(queues: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(queues, timeoutMs, signal);
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ----- schedules ----------------------------------------------------------------------

  async saveSchedule(schedule: Schedule): Promise<void> {
    this.scheduleMap.set(`${schedule.queue}\n${schedule.id}`, structuredClone(schedule));
  }

  async schedules(queue?: string): Promise<Schedule[]> {
    return [...this.scheduleMap.values()]
      .filter((s) => queue === undefined || s.queue === queue)
      .sort((a, b) => a.queue.localeCompare(b.queue) || a.id.localeCompare(b.id))
      .map((s) => structuredClone(s));
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    return this.scheduleMap.delete(`${queue}\n${id}`);
  }

  async advanceSchedule(queue: string, id: string, expected: ScheduleProgress, next: ScheduleProgress): Promise<boolean> {
    const s = this.scheduleMap.get(`${queue}\n${id}`);
    if (!s || !sameProgress(s, expected)) return false;
    Object.assign(s, progressOf(next), { updatedAt: this.clock.now() });
    return true;
  }

  // ----- leadership ---------------------------------------------------------------------

  async lead(role: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    const cur = this.leaders.get(role);
    if (cur && cur.holder !== holder && cur.until > now) return false;
    this.leaders.set(role, { holder, until: now + ttlMs });
    return true;
  }

  async resign(role: string, holder: string): Promise<void> {
    if (this.leaders.get(role)?.holder === holder) this.leaders.delete(role);
  }

  // ----- workers ------------------------------------------------------------------------

  async reportWorker(info: WorkerInfo, ttlMs: number): Promise<void> {
    this.workerInfo.set(info.id, { info: structuredClone(info), until: this.clock.now() + ttlMs });
  }

  async removeWorker(id: string): Promise<void> {
    this.workerInfo.delete(id);
  }

  async workers(): Promise<WorkerInfo[]> {
    const now = this.clock.now();
    return [...this.workerInfo.values()].filter((w) => w.until > now).map((w) => structuredClone(w.info));
  }

  async problem(): Promise<string | null> {
    return null;
  }

  async close(): Promise<void> {
    this.waiters.closeAll();
    this.listeners.clear();
  }
}

/** Results are plain JSON values: primitives need no copy (structuredClone costs a call each). */
function copy<T>(v: T): T {
  return v === null || typeof v !== 'object' ? v : structuredClone(v);
}
