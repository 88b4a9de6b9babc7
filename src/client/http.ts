/**
 * The Client over a Conveyor server's REST API (docs/http-api.md). Errors come back as
 * the same typed errors a local store throws; a server that cannot be reached is a
 * ConnectionError (CLI exit 2) that says how to start one.
 */
import type { BatchCallback, BatchStatus } from '../batch.ts';
import type { EnqueueResult, Job, LogLine } from '../core/job.ts';
import type { QueueConfig } from '../core/queue-config.ts';
import type { Schedule, ScheduleSpec } from '../core/schedule.ts';
import { openAsBlob } from 'node:fs';
import { basename } from 'node:path';
import { ConnectionError, NotFoundError } from '../core/errors.ts';
import { tracedAdd } from '../telemetry/tracing.ts';
import { answer, authHeaders, request, serverTarget, type ServerTarget } from '../stores/http/request.ts';
import type { GroupPage, JobPage, ListFilter, QueueInfo, WorkerInfo } from '../stores/store.ts';
import type { CleanSpec, Client, NewJobSpec, Stats } from './client.ts';

export class HttpClient implements Client {
  readonly target: string;
  private readonly server: ServerTarget;

  constructor(url: string, token?: string) {
    this.server = serverTarget(url, token);
    this.target = this.server.base;
  }

  private call<T>(method: string, path: string, body?: unknown): Promise<T> {
    return request<T>(this.server, method, path, body);
  }

  add(queue: string, jobs: NewJobSpec[]): Promise<EnqueueResult[]> {
    // The server's own add continues this span's trace (the request carries its context).
    return tracedAdd(queue, jobs.length, async () => (await this.call<{ results: EnqueueResult[] }>('POST', `/api/queues/${enc(queue)}/jobs`, { jobs })).results);
  }

  addBatch(queue: string, jobs: NewJobSpec[], onComplete: BatchCallback): Promise<{ id: string; jobs: EnqueueResult[] }> {
    return tracedAdd(queue, jobs.length + 1, () => this.call('POST', `/api/queues/${enc(queue)}/batches`, { jobs, onComplete }));
  }

  getBatch(id: string): Promise<BatchStatus | null> {
    return orNull(this.call<BatchStatus>('GET', `/api/batches/${enc(id)}`));
  }

  get(id: string): Promise<Job | null> {
    return orNull(this.call<Job>('GET', `/api/jobs/${enc(id)}`));
  }

  list(filter: ListFilter): Promise<JobPage> {
    const q = new URLSearchParams();
    if (filter.queue) q.set('queue', filter.queue);
    if (filter.states?.length) q.set('state', filter.states.join(','));
    if (filter.name) q.set('name', filter.name);
    if (filter.text) q.set('text', filter.text);
    if (filter.order) q.set('order', filter.order);
    if (filter.limit !== undefined) q.set('limit', String(filter.limit));
    if (filter.cursor) q.set('cursor', filter.cursor);
    return this.call<JobPage>('GET', `/api/jobs?${q}`);
  }

  async queues(): Promise<QueueInfo[]> {
    return (await this.call<{ queues: QueueInfo[] }>('GET', '/api/queues')).queues;
  }

  stats(): Promise<Stats> {
    return this.call<Stats>('GET', '/api/stats');
  }

  async workers(): Promise<WorkerInfo[]> {
    return (await this.call<{ workers: WorkerInfo[] }>('GET', '/api/workers')).workers;
  }

  async logs(id: string, after = 0, limit = 1000): Promise<LogLine[]> {
    return (await this.call<{ lines: LogLine[] }>('GET', `/api/jobs/${enc(id)}/logs?after=${after}&limit=${limit}`)).lines;
  }

  cancel(id: string, reason?: string): Promise<Job> {
    return this.call<Job>('POST', `/api/jobs/${enc(id)}/cancel`, reason === undefined ? {} : { reason });
  }

  retry(id: string): Promise<Job> {
    return this.call<Job>('POST', `/api/jobs/${enc(id)}/retry`, {});
  }

  async retryAll(queue: string, state: 'failed' | 'canceled' = 'failed'): Promise<number> {
    return (await this.call<{ retried: number }>('POST', `/api/queues/${enc(queue)}/retry-all`, { state })).retried;
  }

  promote(id: string): Promise<Job> {
    return this.call<Job>('POST', `/api/jobs/${enc(id)}/promote`, {});
  }

  async remove(id: string): Promise<void> {
    await this.call<void>('DELETE', `/api/jobs/${enc(id)}`);
  }

  async pause(queue: string): Promise<QueueConfig> {
    return (await this.call<{ config: QueueConfig }>('POST', `/api/queues/${enc(queue)}/pause`, {})).config;
  }

  async groups(queue: string, limit = 50): Promise<GroupPage> {
    const { groups, sampled } = await this.call<GroupPage>('GET', `/api/queues/${enc(queue)}/groups?limit=${limit}`);
    return { groups, sampled };
  }

  async configure(queue: string, patch: Partial<QueueConfig>): Promise<QueueConfig> {
    return (await this.call<{ config: QueueConfig }>('PATCH', `/api/queues/${enc(queue)}`, patch)).config;
  }

  async resume(queue: string): Promise<QueueConfig> {
    return (await this.call<{ config: QueueConfig }>('POST', `/api/queues/${enc(queue)}/resume`, {})).config;
  }

  async clean(queue: string, spec: CleanSpec): Promise<number> {
    return (await this.call<{ removed: number }>('POST', `/api/queues/${enc(queue)}/clean`, spec)).removed;
  }

  async drain(queue: string, limit: number): Promise<Job[]> {
    const workerId = `drain-${process.pid}`;
    const { jobs } = await this.call<{ jobs: (Job & { token: string })[] }>('POST', '/api/worker/claim', { workerId, queues: [queue], limit, leaseMs: 60_000, waitMs: 0 });
    if (jobs.length > 0) {
      await this.call('POST', '/api/worker/finish', { outcomes: jobs.map((j) => ({ id: j.id, token: j.token, kind: 'completed', result: { drained: true } })) });
    }
    return jobs.map(({ token: _token, ...job }) => job);
  }

  async submit(queue: string, name: string, files: string[], options: Record<string, string>): Promise<EnqueueResult> {
    const form = new FormData();
    for (const [k, v] of Object.entries(options)) form.append(k, v);
    for (const f of files) form.append('images', await openAsBlob(f), basename(f));
    const query = new URLSearchParams({ queue, job_type: name });
    let res: Response;
    try {
      res = await fetch(`${this.server.base}/queue/submit?${query}`, { method: 'POST', body: form, headers: authHeaders(this.server) });
    } catch (err) {
      throw new ConnectionError(`cannot reach the Conveyor server at ${this.server.base} (${(err as Error).message}); start it with \`conveyor serve\``, { cause: err });
    }
    const r = await answer<{ job_id: string }>(this.server, res);
    return { id: r.job_id, state: 'queued', duplicate: false };
  }

  async schedule(queue: string, id: string, spec: ScheduleSpec): Promise<Schedule> {
    return this.call<Schedule>('PUT', `/api/queues/${enc(queue)}/schedules/${enc(id)}`, spec);
  }

  async schedules(queue?: string): Promise<Schedule[]> {
    return (await this.call<{ schedules: Schedule[] }>('GET', queue === undefined ? '/api/schedules' : `/api/queues/${enc(queue)}/schedules`)).schedules;
  }

  async unschedule(queue: string, id: string): Promise<void> {
    await this.call<void>('DELETE', `/api/queues/${enc(queue)}/schedules/${enc(id)}`);
  }

  async pauseSchedule(queue: string, id: string): Promise<Schedule> {
    return this.call<Schedule>('POST', `/api/queues/${enc(queue)}/schedules/${enc(id)}/pause`);
  }

  async resumeSchedule(queue: string, id: string): Promise<Schedule> {
    return this.call<Schedule>('POST', `/api/queues/${enc(queue)}/schedules/${enc(id)}/resume`);
  }

  async close(): Promise<void> {}
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

/** A read's answer, or null when the server says there is no such thing (404). */
async function orNull<T>(answer: Promise<T>): Promise<T | null> {
  try {
    return await answer;
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}
