/**
 * JSON-RPC 2.0 at POST /rpc with the job manager's method names (queue_add_job, queue_start_job,
 * queue_stop_job, ...). Batches are answered in order; notifications get no answer.
 */
import { batchStatus, type BatchCallback } from '../../batch.ts';
import type { FastifyInstance } from 'fastify';
import type { ScheduleSpec } from '../../core/schedule.ts';
import { view } from './schedules.ts';
import { ConveyorError, NotFoundError, ValidationError } from '../../core/errors.ts';
import type { Job } from '../../core/job.ts';
import type { JobState } from '../../core/states.ts';
import type { ServerContext } from '../context.ts';
import { httpStatusOf } from '../http-errors.ts';
import { parseStates } from './api.ts';

type Params = Record<string, unknown>;

/** The job manager's status names for our states (running, stopped...). */
const MANAGER_STATUS: Record<JobState, string> = {
  pending: 'pending', scheduled: 'pending', deferred: 'pending', queued: 'pending',
  active: 'running', completed: 'completed', failed: 'failed', canceled: 'stopped',
};

function status(job: Job) {
  const last = job.errors[job.errors.length - 1];
  return {
    job_id: job.id,
    queue: job.queue,
    job_type: job.name,
    status: MANAGER_STATUS[job.state],
    state: job.state,
    result: job.result,
    error: job.state === 'failed' && last ? last.message : null,
    progress: job.progress,
    description: job.message,
    created_at: job.createdAt,
    started_at: job.startedAt,
    finished_at: job.finishedAt,
  };
}

function str(p: Params, key: string, fallback?: string): string {
  const v = p[key] ?? fallback;
  if (typeof v !== 'string' || v.length === 0) throw new ValidationError(`params.${key} must be a non-empty string`, key);
  return v;
}

/** Each method's params: anything else is refused (-32602), as REST refuses unknown fields. */
const PARAMS: Record<string, readonly string[] | null> = {
  queue_add_job: ['queue', 'job_type', 'name', 'job_id', 'params', 'options', 'start'],
  queue_start_job: ['job_id'],
  queue_stop_job: ['job_id', 'reason'],
  queue_delete_job: ['job_id'],
  queue_retry_job: ['job_id'],
  queue_get_job_status: ['job_id'],
  queue_get_job_logs: ['job_id'],
  queue_list_jobs: ['queue', 'status', 'state', 'job_type', 'limit', 'cursor'],
  queue_health: [],
  queue_stats: [],
  queue_pause: ['queue'],
  queue_resume: ['queue'],
  queue_configure: ['queue', 'settings'],
  queue_add_batch: ['queue', 'jobs', 'on_complete'],
  queue_get_batch: ['batch_id'],
  queue_groups: ['queue', 'limit'],
  // The schedule spec's own fields are checked by buildSchedule, by name.
  queue_schedule: null,
  queue_unschedule: ['queue', 'id'],
  queue_list_schedules: ['queue'],
};

function checkParams(method: string, p: Params): void {
  const known = PARAMS[method];
  if (!known) return;
  for (const k of Object.keys(p)) {
    if (!known.includes(k)) throw new ValidationError(`unknown field "${k}" for ${method}${known.length ? ` (it takes ${known.join(', ')})` : ' (it takes none)'}`, k);
  }
  if (p.options !== undefined && (p.options === null || typeof p.options !== 'object' || Array.isArray(p.options))) throw new ValidationError('options must be an object of job options', 'options');
  if (p.start !== undefined && typeof p.start !== 'boolean') throw new ValidationError('start must be true or false', 'start');
  if (p.limit !== undefined && (!Number.isInteger(p.limit) || (p.limit as number) < 1 || (p.limit as number) > 1000)) throw new ValidationError('limit must be an integer from 1 to 1000', 'limit');
}

function methods(ctx: ServerContext): Record<string, (p: Params) => Promise<unknown>> {
  const jobOf = async (p: Params) => ctx.job(str(p, 'job_id'));
  return {
    async queue_add_job(p) {
      const q = ctx.queue(typeof p.queue === 'string' ? p.queue : 'default');
      const name = str(p, 'job_type', typeof p.name === 'string' ? p.name : undefined);
      const opts = { ...(p.options as object | undefined), ...(typeof p.job_id === 'string' ? { jobId: p.job_id } : {}), start: p.start === true };
      const r = await q.add(name, p.params ?? {}, opts);
      return { job_id: r.id, status: r.state === 'pending' ? 'pending' : MANAGER_STATUS[r.state], duplicate: r.duplicate };
    },
    async queue_start_job(p) {
      const { queue } = await jobOf(p);
      return status(await queue.start(str(p, 'job_id')));
    },
    async queue_stop_job(p) {
      const { queue } = await jobOf(p);
      return status(await queue.cancel(str(p, 'job_id'), typeof p.reason === 'string' ? p.reason : 'stopped'));
    },
    async queue_delete_job(p) {
      const { queue } = await jobOf(p);
      await queue.remove(str(p, 'job_id'));
      return { job_id: p.job_id, status: 'deleted' };
    },
    async queue_retry_job(p) {
      const { queue } = await jobOf(p);
      return status(await queue.retry(str(p, 'job_id')));
    },
    async queue_get_job_status(p) {
      return status((await jobOf(p)).job);
    },
    async queue_get_job_logs(p) {
      const { queue } = await jobOf(p);
      const lines = await queue.getLogs(str(p, 'job_id'), 0, 10_000);
      const stdout = lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
      const stderr = lines.filter((l) => l.stream === 'stderr').map((l) => l.line);
      const log = lines.filter((l) => l.stream === 'log').map((l) => l.line);
      return { job_id: p.job_id, stdout, stderr, log, stdout_lines: stdout.length, stderr_lines: stderr.length };
    },
    async queue_list_jobs(p) {
      const states = parseStates(typeof p.status === 'string' ? p.status : typeof p.state === 'string' ? p.state : undefined);
      const page = await ctx.store.list({
        ...(typeof p.queue === 'string' ? { queue: p.queue } : {}),
        ...(states ? { states } : {}),
        ...(typeof p.job_type === 'string' ? { name: p.job_type } : {}),
        limit: typeof p.limit === 'number' ? p.limit : 100,
        ...(typeof p.cursor === 'string' ? { cursor: p.cursor } : {}),
      });
      return { jobs: page.jobs.map(status), next: page.next };
    },
    async queue_health() {
      const counts = Object.values(await ctx.store.counts());
      const workers = await ctx.store.workers();
      const sum = (s: JobState) => counts.reduce((n, c) => n + c[s], 0);
      const total = counts.reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
      const problem = await ctx.store.problem();
      return {
        status: problem ? 'unhealthy' : 'healthy',
        ...(problem ? { error: problem } : {}),
        running: true,
        total_jobs: total,
        pending_jobs: sum('pending') + sum('queued') + sum('scheduled') + sum('deferred'),
        running_jobs: sum('active'),
        completed_jobs: sum('completed'),
        failed_jobs: sum('failed'),
        stopped_jobs: sum('canceled'),
        store: { kind: ctx.store.kind, location: ctx.store.location },
        // The job manager's names: where jobs are kept, and how many can run at once (the
        // concurrency of every worker reporting now).
        registry_path: ctx.store.location,
        max_concurrent_jobs: workers.reduce((n, w) => n + w.concurrency, 0),
        workers: workers.length,
      };
    },
    async queue_stats() {
      return { queues: await ctx.store.counts() };
    },
    async queue_pause(p) {
      await ctx.queue(str(p, 'queue')).pause();
      return { queue: p.queue, paused: true };
    },
    async queue_resume(p) {
      await ctx.queue(str(p, 'queue')).resume();
      return { queue: p.queue, paused: false };
    },
    async queue_add_batch(p) {
      if (!Array.isArray(p.jobs)) throw new ValidationError('params.jobs must be an array of {name, data, opts}', 'jobs');
      return ctx.queue(str(p, 'queue', 'default')).addBatch(p.jobs as { name: string }[], { onComplete: p.on_complete as BatchCallback });
    },
    async queue_get_batch(p) {
      const status = await batchStatus(ctx.store, str(p, 'batch_id'));
      if (!status) throw new NotFoundError(`batch ${p.batch_id} not found`);
      return status;
    },
    async queue_groups(p) {
      if (p.limit !== undefined && typeof p.limit !== 'number') throw new ValidationError('params.limit must be an integer from 1 to 1000', 'limit');
      const queue = str(p, 'queue');
      return { queue, ...(await ctx.queue(queue).groups((p.limit as number | undefined) ?? 50)) };
    },
    async queue_configure(p) {
      const settings = p.settings ?? {};
      if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) throw new ValidationError('params.settings must be an object of queue settings', 'settings');
      const queue = str(p, 'queue');
      return { queue, config: await ctx.queue(queue).configure(settings as Record<string, unknown>) };
    },
    async queue_schedule(p) {
      const { queue, id: _id, ...spec } = p;
      if (typeof queue !== 'string' && queue !== undefined) throw new ValidationError('params.queue must be a string', 'queue');
      return view(await ctx.queue((queue as string | undefined) ?? 'default').schedule(str(p, 'id'), spec as unknown as ScheduleSpec));
    },
    async queue_unschedule(p) {
      const removed = await ctx.queue(str(p, 'queue', 'default')).unschedule(str(p, 'id'));
      if (!removed) throw new NotFoundError(`schedule ${p.id} not found`);
      return { id: p.id, removed: true };
    },
    async queue_list_schedules(p) {
      const list = typeof p.queue === 'string' ? await ctx.queue(p.queue).schedules() : await ctx.store.schedules();
      return { schedules: list.map(view) };
    },
  };
}

interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

export function rpcRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const table = methods(ctx);
  const one = async (msg: unknown): Promise<object | null> => {
    const m = msg as { jsonrpc?: unknown; method?: unknown; params?: unknown; id?: unknown };
    const idValid = m && typeof m === 'object' && (m.id === undefined || m.id === null || typeof m.id === 'string' || typeof m.id === 'number');
    const id = idValid && m.id !== undefined ? m.id : null;
    const fail = (error: RpcError) => ({ jsonrpc: '2.0', id, error });
    if (!m || typeof m !== 'object' || Array.isArray(m) || m.jsonrpc !== '2.0' || typeof m.method !== 'string' || !idValid) {
      return fail({ code: -32600, message: 'Invalid Request: expected {"jsonrpc": "2.0", "method": string, "params"?: object, "id"?: string|number}' });
    }
    const fn = Object.hasOwn(table, m.method) ? table[m.method] : undefined;
    if (!fn) return fail({ code: -32601, message: `Method not found: ${m.method}; known: ${Object.keys(table).join(', ')}` });
    if (m.params !== undefined && (m.params === null || typeof m.params !== 'object' || Array.isArray(m.params))) {
      return fail({ code: -32602, message: 'Invalid params: params must be an object' });
    }
    try {
      checkParams(m.method, (m.params ?? {}) as Params);
      const result = await fn((m.params ?? {}) as Params);
      return m.id === undefined ? null : { jsonrpc: '2.0', id, result };
    } catch (err) {
      if (err instanceof ValidationError) return fail({ code: -32602, message: `Invalid params: ${err.message}`, data: { code: err.code, field: err.field } });
      if (err instanceof ConveyorError) return fail({ code: -32000 - (httpStatusOf(err) - 400), message: err.message, data: { code: err.code } });
      app.log.error({ err }, 'rpc method failed');
      return fail({ code: -32603, message: 'Internal error' });
    }
  };

  // Our own parser, so malformed JSON becomes a JSON-RPC -32700 rather than an HTTP 400.
  app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
    scope.post('/rpc', async (req, reply) => {
      let payload: unknown;
      try {
        payload = JSON.parse(String(req.body ?? ''));
      } catch {
        return reply.send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: the body is not valid JSON' } });
      }
      if (Array.isArray(payload)) {
        if (payload.length === 0) return reply.send({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request: empty batch' } });
        if (payload.length > 1000) return reply.send({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request: a batch holds at most 1000 calls' } });
        // In order, one after another: a batch that adds then reads sees its own add.
        const answers: object[] = [];
        for (const call of payload) {
          const a = await one(call);
          if (a !== null) answers.push(a);
        }
        return answers.length === 0 ? reply.status(204).send() : reply.send(answers);
      }
      const answer = await one(payload);
      return answer === null ? reply.status(204).send() : reply.send(answer);
    });
  });
}
