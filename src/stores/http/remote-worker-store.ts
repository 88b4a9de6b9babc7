/**
 * The worker's side of a Conveyor server: a Store whose claims, heartbeats, outcomes and
 * progress go over the server's remote-worker routes (/api/worker/*), and whose events and
 * wake-ups come from its event stream (/api/events). A `Worker` runs on it unchanged, in
 * any process that can reach the server: `conveyor worker --server URL`.
 *
 * Only what a Worker needs is here. Producing, reading and operating go through the
 * server's API (HttpClient); upkeep is the server's (its Maintainer), so this store never
 * leads.
 */
import { systemClock } from '../../core/clock.ts';
import { ConveyorError } from '../../core/errors.ts';
import type { ClaimedJob, EnqueueResult, Job, LogLine, NewJob } from '../../core/job.ts';
import type { QueueConfig } from '../../core/queue-config.ts';
import type { Schedule, ScheduleProgress } from '../../core/schedule.ts';
import type {
  GroupPage,
  ClaimRequest,
  JobEvent,
  JobPage,
  JobUpdate,
  Lease,
  MaintainReport,
  MinuteCounts,
  Outcome,
  QueueInfo,
  StateCounts,
  Store,
  WorkerInfo,
  FinishAndClaim,
} from '../store.ts';
import { finishThenClaim } from '../store.ts';
import { Waiters } from '../waiters.ts';
import { answer, authHeaders, request, serverTarget, type ServerTarget } from './request.ts';

/** Events after which a waiting worker should try to claim. */
const WAKING = new Set(['added', 'promoted', 'retrying', 'resumed']);
const RECONNECT_MS = 1_000;

export class RemoteWorkerStore implements Store {
  readonly kind = 'http';
  readonly location: string;
  readonly clock = systemClock;
  private readonly server: ServerTarget;
  private readonly waiters = new Waiters();
  private readonly listeners = new Set<(e: JobEvent) => void>();
  private stream: AbortController | null = null;
  private closed = false;

  constructor(url: string, token?: string) {
    this.server = serverTarget(url, token);
    this.location = this.server.base;
  }

  /** Checks that the server answers and takes the token (a refused token is not worth retrying). */
  async check(): Promise<void> {
    await this.call('/api/worker/extend', { leases: [] });
  }

  private call<T>(path: string, body: unknown): Promise<T> {
    return request<T>(this.server, 'POST', path, body);
  }

  // ----- what a Worker uses ---------------------------------------------------------------

  async claim(req: ClaimRequest): Promise<ClaimedJob[]> {
    const body = { workerId: req.workerId, queues: req.queues, limit: Math.min(req.limit, 1000), leaseMs: req.leaseMs, waitMs: 0, ...(req.names ? { names: req.names } : {}) };
    return (await this.call<{ jobs: ClaimedJob[] }>('/api/worker/claim', body)).jobs;
  }

  async extend(leases: Lease[], leaseMs: number): Promise<boolean[]> {
    return leases.length === 0 ? [] : (await this.call<{ held: boolean[] }>('/api/worker/extend', { leases, leaseMs })).held;
  }

  /** The two requests in turn: the worker API has no combined endpoint. */
  finishAndClaim(outcomes: Outcome[], next: ClaimRequest): Promise<FinishAndClaim> {
    return finishThenClaim(this, outcomes, next);
  }

  async finish(outcomes: Outcome[]): Promise<boolean[]> {
    if (outcomes.length === 0) return [];
    // Decided here (a custom backoff function runs in this process); the server applies them.
    const body = outcomes.map((o) => (o.kind === 'completed' ? { id: o.id, token: o.token, kind: o.kind, result: o.result } : { id: o.id, token: o.token, kind: o.kind, error: o.error, next: o.next }));
    return (await this.call<{ applied: boolean[] }>('/api/worker/finish', { outcomes: body })).applied;
  }

  async update(updates: JobUpdate[]): Promise<boolean[]> {
    return updates.length === 0 ? [] : (await this.call<{ applied: boolean[] }>('/api/worker/update', { updates })).applied;
  }

  async reportWorker(info: WorkerInfo, ttlMs: number): Promise<void> {
    await this.call('/api/worker/report', { info, ttlMs });
  }

  async removeWorker(id: string): Promise<void> {
    await this.call('/api/worker/remove', { id });
  }

  wait(queues: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.follow();
    return this.waiters.wait(queues, timeoutMs, signal);
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    this.listeners.add(listener);
    this.follow();
    return () => this.listeners.delete(listener);
  }

  /** Upkeep is the server's: a remote worker never leads. */
  async lead(): Promise<boolean> {
    return false;
  }

  async resign(): Promise<void> {}

  async problem(): Promise<string | null> {
    return this.check().then(
      () => null,
      (err: Error) => err.message,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stream?.abort();
    this.waiters.closeAll();
    this.listeners.clear();
  }

  /** Keeps one event stream open while anyone listens or waits; reconnects after a drop. */
  private follow(): void {
    if (this.stream || this.closed) return;
    const ctl = new AbortController();
    this.stream = ctl;
    void this.read(ctl).finally(() => {
      if (this.stream === ctl) this.stream = null;
      if (!this.closed && !ctl.signal.aborted) setTimeout(() => this.follow(), RECONNECT_MS).unref();
    });
  }

  private async read(ctl: AbortController): Promise<void> {
    try {
      const res = await fetch(`${this.server.base}/api/events`, { headers: authHeaders(this.server), signal: ctl.signal });
      if (!res.ok || !res.body) {
        await answer(this.server, res);
        return;
      }
      // A reconnect may have missed wake-ups: claim again.
      this.waiters.notifyAll();
      const decoder = new TextDecoder();
      let buffer = '';
      const reader = res.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const messages = buffer.split('\n\n');
        buffer = messages.pop()!;
        for (const m of messages) {
          const data = m.split('\n').find((l) => l.startsWith('data: '));
          if (data) this.deliver(JSON.parse(data.slice(6)) as JobEvent);
        }
      }
    } catch {
      // Dropped or refused: follow() reconnects.
    }
  }

  private deliver(e: JobEvent): void {
    if (WAKING.has(e.type)) this.waiters.notify(e.queue);
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A listener's failure must not break the stream.
      }
    }
  }

  // ----- the rest is the server API's (HttpClient) ------------------------------------------

  private refuse(what: string): never {
    throw new ConveyorError('NOT_SUPPORTED', `${what} is not available to a remote worker; use the server's HTTP API (HttpClient or \`conveyor --server\`)`);
  }

  async enqueue(_jobs: NewJob[]): Promise<EnqueueResult[]> {
    return this.refuse('adding jobs');
  }
  async cancel(_ids: string[]): Promise<string[]> {
    return this.refuse('cancel');
  }
  async remove(_ids: string[]): Promise<string[]> {
    return this.refuse('remove');
  }
  async retry(_ids: string[]): Promise<string[]> {
    return this.refuse('retry');
  }
  async promote(_ids: string[]): Promise<string[]> {
    return this.refuse('promote');
  }
  async clean(): Promise<number> {
    return this.refuse('clean');
  }
  async configureQueue(): Promise<QueueConfig> {
    return this.refuse('queue settings');
  }
  async get(_id: string): Promise<Job | null> {
    return this.refuse('reading jobs');
  }
  async list(): Promise<JobPage> {
    return this.refuse('listing jobs');
  }
  async logs(): Promise<LogLine[]> {
    return this.refuse('reading logs');
  }
  async counts(): Promise<Record<string, StateCounts>> {
    return this.refuse('counts');
  }
  async queues(): Promise<QueueInfo[]> {
    return this.refuse('queues');
  }
  async queueConfig(): Promise<QueueConfig> {
    return this.refuse('queue settings');
  }
  async maintain(): Promise<MaintainReport> {
    return this.refuse('upkeep');
  }
  async history(): Promise<MinuteCounts[]> {
    return this.refuse('history');
  }
  async groups(): Promise<GroupPage> {
    return this.refuse('groups');
  }
  async dependents(): Promise<string[]> {
    return this.refuse('reading jobs');
  }
  async workers(): Promise<WorkerInfo[]> {
    return this.refuse('workers');
  }
  async saveSchedule(_s: Schedule): Promise<void> {
    return this.refuse('schedules');
  }
  async schedules(): Promise<Schedule[]> {
    return this.refuse('schedules');
  }
  async removeSchedule(): Promise<boolean> {
    return this.refuse('schedules');
  }
  async advanceSchedule(_q: string, _id: string, _e: ScheduleProgress, _n: ScheduleProgress): Promise<boolean> {
    return this.refuse('schedules');
  }
}
