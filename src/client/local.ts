/** The Client over a store opened in this process (a SQLite file, Redis, memory). */
import { batchStatus, type BatchCallback, type BatchStatus } from '../batch.ts';
import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, resolve } from 'node:path';
import { NotFoundError } from '../core/errors.ts';
import type { EnqueueResult, Job, LogLine } from '../core/job.ts';
import type { QueueConfig } from '../core/queue-config.ts';
import type { Schedule, ScheduleSpec } from '../core/schedule.ts';
import { Queue } from '../queue.ts';
import type { GroupPage, JobPage, ListFilter, QueueInfo, Store, WorkerInfo } from '../stores/store.ts';
import { sumCounts, type CleanSpec, type Client, type NewJobSpec, type Stats } from './client.ts';

export class LocalClient implements Client {
  readonly target: string;
  readonly store: Store;

  constructor(store: Store) {
    this.store = store;
    this.target = `${store.kind} ${store.location}`;
  }

  private queue(name: string): Queue {
    return new Queue(this.store, name);
  }

  /** The Queue a job belongs to (admin operations live on Queue). */
  private async queueOf(id: string): Promise<Queue> {
    const job = await this.store.get(id);
    if (!job) throw new NotFoundError(`job ${id} not found`);
    return this.queue(job.queue);
  }

  add(queue: string, jobs: NewJobSpec[]): Promise<EnqueueResult[]> {
    return this.queue(queue).addBulk(jobs);
  }

  addBatch(queue: string, jobs: NewJobSpec[], onComplete: BatchCallback): Promise<{ id: string; jobs: EnqueueResult[] }> {
    return this.queue(queue).addBatch(jobs, { onComplete });
  }

  getBatch(id: string): Promise<BatchStatus | null> {
    return batchStatus(this.store, id);
  }

  get(id: string): Promise<Job | null> {
    return this.store.get(id);
  }

  list(filter: ListFilter): Promise<JobPage> {
    return this.store.list(filter);
  }

  queues(): Promise<QueueInfo[]> {
    return this.store.queues();
  }

  async stats(): Promise<Stats> {
    const queues = await this.store.counts();
    return { queues, totals: sumCounts(queues), workers: (await this.store.workers()).length };
  }

  workers(): Promise<WorkerInfo[]> {
    return this.store.workers();
  }

  async logs(id: string, after = 0, limit = 1000): Promise<LogLine[]> {
    return (await this.queueOf(id)).getLogs(id, after, limit);
  }

  async cancel(id: string, reason?: string): Promise<Job> {
    return (await this.queueOf(id)).cancel(id, reason);
  }

  async retry(id: string): Promise<Job> {
    return (await this.queueOf(id)).retry(id);
  }

  retryAll(queue: string, state: 'failed' | 'canceled' = 'failed'): Promise<number> {
    return this.queue(queue).retryAll(state);
  }

  async promote(id: string): Promise<Job> {
    return (await this.queueOf(id)).promote(id);
  }

  async remove(id: string): Promise<void> {
    await (await this.queueOf(id)).remove(id);
  }

  async pause(queue: string): Promise<QueueConfig> {
    await this.queue(queue).pause();
    return this.store.queueConfig(queue);
  }

  groups(queue: string, limit?: number): Promise<GroupPage> {
    return this.queue(queue).groups(limit);
  }

  configure(queue: string, patch: Partial<QueueConfig>): Promise<QueueConfig> {
    return this.queue(queue).configure(patch);
  }

  async resume(queue: string): Promise<QueueConfig> {
    await this.queue(queue).resume();
    return this.store.queueConfig(queue);
  }

  clean(queue: string, spec: CleanSpec): Promise<number> {
    return this.queue(queue).clean(spec);
  }

  async drain(queue: string, limit: number): Promise<Job[]> {
    this.queue(queue); // validates the name
    const claimed = await this.store.claim({ queues: [queue], workerId: `drain@${hostname()}:${process.pid}`, limit, leaseMs: 60_000 });
    await this.store.finish(claimed.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: { drained: true } })));
    return claimed.map(({ token: _token, ...job }) => job);
  }

  close(): Promise<void> {
    return this.store.close();
  }

  schedule(queue: string, id: string, spec: ScheduleSpec): Promise<Schedule> {
    return this.queue(queue).schedule(id, spec);
  }

  schedules(queue?: string): Promise<Schedule[]> {
    return queue === undefined ? this.store.schedules() : this.queue(queue).schedules();
  }

  async unschedule(queue: string, id: string): Promise<void> {
    if (!(await this.queue(queue).unschedule(id))) throw new NotFoundError(`schedule ${id} not found in queue ${queue}`);
  }

  pauseSchedule(queue: string, id: string): Promise<Schedule> {
    return this.queue(queue).pauseSchedule(id);
  }

  resumeSchedule(queue: string, id: string): Promise<Schedule> {
    return this.queue(queue).resumeSchedule(id);
  }

  async submit(queue: string, name: string, files: string[], options: Record<string, string>): Promise<EnqueueResult> {
    const list = files.map((f) => ({ name: basename(f), path: resolve(f), size: statSync(f).size, field: 'images' }));
    return this.queue(queue).add(name, { files: list, options });
  }
}
