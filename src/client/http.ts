/**
 * The Client over a Conveyor server's REST API (docs/http-api.md). Errors come back as
 * the same typed errors a local store throws; a server that cannot be reached is a
 * ConnectionError (CLI exit 2) that says how to start one.
 */
import { ConnectionError, ConveyorError, NotFoundError, QueueFullError, StateError, ValidationError } from '../core/errors.ts';
import type { EnqueueResult, Job, LogLine } from '../core/job.ts';
import type { QueueConfig } from '../core/queue-config.ts';
import type { Schedule, ScheduleSpec } from '../core/schedule.ts';
import type { JobPage, ListFilter, QueueInfo, WorkerInfo } from '../stores/store.ts';
import type { CleanSpec, Client, NewJobSpec, Stats } from './client.ts';

export class HttpClient implements Client {
  readonly target: string;
  private readonly base: string;
  private readonly token: string | undefined;

  constructor(url: string, token?: string) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ValidationError(`--server must be a URL like http://127.0.0.1:7700; got "${url}"`, 'server');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ValidationError('--server must be an http:// or https:// URL', 'server');
    this.base = parsed.href.replace(/\/+$/, '');
    this.target = this.base;
    this.token = token || undefined;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new ConnectionError(`cannot reach the Conveyor server at ${this.base} (${causeOf(err)}); start it with \`conveyor serve\``, { cause: err });
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let payload: unknown = null;
    try {
      payload = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: reported below
    }
    if (res.ok) return payload as T;
    const e = (payload as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
    const message = e?.message ?? `${res.status} ${res.statusText}`;
    switch (res.status) {
      case 400:
      case 413:
      case 415:
        throw new ValidationError(message, e?.field);
      case 401:
      case 403:
        throw new ConveyorError('UNAUTHORIZED', `the server at ${this.base} refused the token (${message}); pass --token or set CONVEYOR_TOKEN`);
      case 404:
        throw new NotFoundError(message);
      case 409:
        throw new StateError(message);
      case 429:
        throw new QueueFullError(message);
      case 502:
      case 503:
      case 504:
        throw new ConnectionError(`the server at ${this.base} cannot reach its store: ${message}`);
      default:
        throw new ConveyorError(e?.code ?? 'SERVER', `server error ${res.status}: ${message}`);
    }
  }

  async add(queue: string, jobs: NewJobSpec[]): Promise<EnqueueResult[]> {
    const r = await this.call<{ results: EnqueueResult[] }>('POST', `/api/queues/${enc(queue)}/jobs`, { jobs });
    return r.results;
  }

  async get(id: string): Promise<Job | null> {
    try {
      return await this.call<Job>('GET', `/api/jobs/${enc(id)}`);
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      throw err;
    }
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

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
