/** REST routes for queues and jobs (docs/http-api.md). */
import { batchStatus, MAX_BATCH, type BatchCallback } from '../../batch.ts';
import type { FastifyInstance } from 'fastify';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { parseState, type JobState } from '../../core/states.ts';
import { validateJobId } from '../../core/options.ts';
import { sumCounts } from '../../client/client.ts';
import type { ServerContext } from '../context.ts';

const BULK_ACTIONS = ['retry', 'cancel', 'promote', 'remove'] as const;
type BulkAction = (typeof BULK_ACTIONS)[number];

const idParam = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['id'] } as const;
const queueParam = { type: 'object', properties: { queue: { type: 'string', minLength: 1, maxLength: 128 } }, required: ['queue'] } as const;
const jobSpec = {
  type: 'object',
  properties: { name: { type: 'string' }, data: {}, opts: { type: 'object' } },
  required: ['name'],
  additionalProperties: false,
} as const;

export function parseStates(text: string | undefined): JobState[] | undefined {
  if (!text) return undefined;
  return text.split(',').map((s) => {
    const st = parseState(s);
    if (!st) throw new ValidationError(`unknown state "${s}"`, 'state');
    return st;
  });
}

export function apiRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/queues', async () => ({ queues: await ctx.store.queues() }));

  app.get<{ Params: { queue: string } }>('/api/queues/:queue', { schema: { params: queueParam } }, async (req) => {
    const q = ctx.queue(req.params.queue);
    return { name: q.name, config: await q.settings(), counts: await q.counts() };
  });

  app.get<{ Params: { queue: string }; Querystring: { sample?: number } }>(
    '/api/queues/:queue/latency',
    {
      schema: {
        params: queueParam,
        querystring: { type: 'object', properties: { sample: { type: 'integer', minimum: 1, maximum: 1000 } }, additionalProperties: false },
      },
    },
    async (req) => {
      const q = ctx.queue(req.params.queue);
      if (!(await ctx.store.queues()).some((x) => x.name === q.name)) throw new NotFoundError(`queue ${q.name} not found`);
      return { queue: q.name, ...(await q.latency(req.query.sample ?? 100)) };
    },
  );

  app.get<{ Params: { queue: string }; Querystring: { limit?: number } }>(
    '/api/queues/:queue/groups',
    {
      schema: {
        description: 'The groups (tenants) of a queue with ready or active jobs, most ready first; sampled: counted from the first 10,000 jobs per state (Redis)',
        params: queueParam,
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000 } }, additionalProperties: false },
      },
    },
    async (req) => {
      const q = ctx.queue(req.params.queue);
      if (!(await ctx.store.queues()).some((x) => x.name === q.name)) throw new NotFoundError(`queue ${q.name} not found`);
      return { queue: q.name, ...(await ctx.store.groups(q.name, req.query.limit ?? 50)) };
    },
  );

  app.patch<{ Params: { queue: string }; Body: Record<string, unknown> }>(
    '/api/queues/:queue',
    {
      schema: {
        params: queueParam,
        body: {
          type: 'object',
          description:
            'Settings to change (others stay): paused, concurrency, groupConcurrency, rateLimit {max, durationMs}, groupRateLimit {max, durationMs} (per group), groupWeights {group: weight}, maxSize, overflow, typeLimits, resultTtlMs, failureTtlMs, deadLetter; null clears one',
        },
      },
    },
    async (req) => ({ config: await ctx.queue(req.params.queue).configure(req.body) }),
  );

  for (const action of ['pause', 'resume'] as const) {
    app.post<{ Params: { queue: string } }>(`/api/queues/:queue/${action}`, { schema: { params: queueParam } }, async (req) => {
      const q = ctx.queue(req.params.queue);
      await q[action]();
      return { config: await q.settings() };
    });
  }

  app.post<{ Params: { queue: string }; Body: { states?: string[]; olderThan?: number; limit?: number } }>(
    '/api/queues/:queue/clean',
    {
      schema: {
        params: queueParam,
        body: {
          type: 'object',
          properties: { states: { type: 'array', items: { type: 'string' }, maxItems: 8 }, olderThan: { type: 'number', minimum: 0 }, limit: { type: 'integer', minimum: 1 } },
          additionalProperties: false,
        },
      },
    },
    async (req) => ({ removed: await ctx.queue(req.params.queue).clean(req.body ?? {}) }),
  );

  app.post<{ Params: { queue: string }; Body: { state?: 'failed' | 'canceled' } }>(
    '/api/queues/:queue/retry-all',
    { schema: { params: queueParam, body: { type: 'object', properties: { state: { enum: ['failed', 'canceled'] } }, additionalProperties: false } } },
    async (req) => ({ retried: await ctx.queue(req.params.queue).retryAll(req.body?.state ?? 'failed') }),
  );

  app.post<{ Params: { queue: string }; Body: { name?: string; data?: unknown; opts?: Record<string, unknown>; jobs?: { name: string; data?: unknown; opts?: Record<string, unknown> }[] } }>(
    '/api/queues/:queue/jobs',
    {
      schema: {
        params: queueParam,
        body: {
          type: 'object',
          properties: { name: { type: 'string' }, data: {}, opts: { type: 'object' }, jobs: { type: 'array', items: jobSpec, minItems: 1, maxItems: 10_000 } },
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const q = ctx.queue(req.params.queue);
      const body = req.body;
      if (body.jobs) {
        if (body.name !== undefined) throw new ValidationError('give either {name, data, opts} or {jobs: [...]}, not both', 'jobs');
        return reply.status(201).send({ results: await q.addBulk(body.jobs) });
      }
      if (body.name === undefined) throw new ValidationError('name is required (or jobs: [...])', 'name');
      return reply.status(201).send(await q.add(body.name, body.data, body.opts));
    },
  );

  app.post<{ Params: { queue: string }; Body: { jobs: { name: string; data?: unknown; opts?: Record<string, unknown> }[]; onComplete: BatchCallback } }>(
    '/api/queues/:queue/batches',
    {
      schema: {
        params: queueParam,
        body: {
          type: 'object',
          properties: {
            jobs: { type: 'array', items: jobSpec, minItems: 1, maxItems: MAX_BATCH },
            onComplete: { type: 'object', properties: { name: { type: 'string' }, data: { type: 'object' }, queue: { type: 'string' }, opts: { type: 'object' } }, required: ['name'], additionalProperties: false },
          },
          required: ['jobs', 'onComplete'],
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => reply.status(201).send(await ctx.queue(req.params.queue).addBatch(req.body.jobs, { onComplete: req.body.onComplete })),
  );

  app.get<{ Params: { id: string } }>('/api/batches/:id', { schema: { params: idParam } }, async (req) => {
    const status = await batchStatus(ctx.store, req.params.id);
    if (!status) throw new NotFoundError(`batch ${req.params.id} not found`);
    return status;
  });

  app.get<{ Querystring: { queue?: string; state?: string; name?: string; text?: string; order?: 'asc' | 'desc'; limit?: number; cursor?: string } }>(
    '/api/jobs',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            queue: { type: 'string' },
            state: { type: 'string' },
            name: { type: 'string' },
            text: { type: 'string', maxLength: 200 },
            order: { enum: ['asc', 'desc'] },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
            cursor: { type: 'string', maxLength: 500 },
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const f = req.query;
      const states = parseStates(f.state);
      return ctx.store.list({
        ...(f.queue ? { queue: f.queue } : {}),
        ...(states ? { states } : {}),
        ...(f.name ? { name: f.name } : {}),
        ...(f.text ? { text: f.text } : {}),
        ...(f.order ? { order: f.order } : {}),
        ...(f.limit ? { limit: f.limit } : {}),
        ...(f.cursor ? { cursor: f.cursor } : {}),
      });
    },
  );

  app.get<{ Params: { id: string } }>('/api/jobs/:id', { schema: { params: idParam } }, async (req) => (await ctx.job(req.params.id)).job);

  // The jobs on either side of a job's dependencies, with their states (the job page).
  app.get<{ Params: { id: string } }>('/api/jobs/:id/relations', { schema: { params: idParam } }, async (req) => {
    const { job } = await ctx.job(req.params.id);
    const brief = async (ids: string[]) =>
      Promise.all(
        ids.slice(0, 1000).map(async (id) => {
          const j = await ctx.store.get(id);
          return j ? { id, queue: j.queue, name: j.name, state: j.state } : { id, queue: null, name: null, state: 'removed' };
        }),
      );
    return { dependsOn: await brief(job.dependsOn), dependents: await brief(await ctx.store.dependents(job.id)) };
  });

  app.get<{ Params: { id: string }; Querystring: { after?: number; limit?: number } }>(
    '/api/jobs/:id/logs',
    { schema: { params: idParam, querystring: { type: 'object', properties: { after: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 10_000 } }, additionalProperties: false } } },
    async (req) => {
      const { queue } = await ctx.job(req.params.id);
      return { lines: await queue.getLogs(req.params.id, req.query.after ?? 0, req.query.limit ?? 1000) };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { timeout?: number } }>(
    '/api/jobs/:id/wait',
    { schema: { params: idParam, querystring: { type: 'object', properties: { timeout: { type: 'integer', minimum: 1, maximum: 300_000 } }, additionalProperties: false } } },
    async (req) => {
      const { queue } = await ctx.job(req.params.id);
      return queue.waitUntilFinished(req.params.id, req.query.timeout ?? 30_000);
    },
  );

  app.post<{ Params: { id: string }; Body: { reason?: string } | undefined }>(
    '/api/jobs/:id/cancel',
    { schema: { params: idParam, body: { type: 'object', properties: { reason: { type: 'string', maxLength: 1000 } }, additionalProperties: false } } },
    async (req) => {
      const { queue } = await ctx.job(req.params.id);
      return queue.cancel(req.params.id, req.body?.reason ?? 'canceled over HTTP');
    },
  );

  for (const action of ['retry', 'promote'] as const) {
    app.post<{ Params: { id: string } }>(`/api/jobs/:id/${action}`, { schema: { params: idParam } }, async (req) => {
      const { queue } = await ctx.job(req.params.id);
      return queue[action](req.params.id);
    });
  }

  // Many jobs at once (the dashboard's selection): one store call, so one atomic step per
  // batch; ids whose state does not allow the action come back in `unchanged`.
  app.post<{ Body: { action: BulkAction; ids: string[]; reason?: string } }>(
    '/api/jobs/bulk',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            action: { type: 'string', enum: BULK_ACTIONS },
            ids: { type: 'array', minItems: 1, maxItems: 1000, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 256 } },
            reason: { type: 'string', maxLength: 1000 },
          },
          required: ['action', 'ids'],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const { action, ids } = req.body;
      ids.forEach((id, i) => validateJobId(id, `ids[${i}]`));
      if (req.body.reason !== undefined && action !== 'cancel') throw new ValidationError('reason goes with action "cancel" only', 'reason');
      const changed =
        action === 'cancel'
          ? await ctx.store.cancel(ids, req.body.reason ?? 'canceled over HTTP')
          : action === 'retry'
            ? await ctx.store.retry(ids)
            : action === 'promote'
              ? await ctx.store.promote(ids)
              : await ctx.store.remove(ids);
      const done = new Set(changed);
      return { action, changed, unchanged: ids.filter((id) => !done.has(id)) };
    },
  );

  app.delete<{ Params: { id: string } }>('/api/jobs/:id', { schema: { params: idParam } }, async (req, reply) => {
    const { queue } = await ctx.job(req.params.id);
    await queue.remove(req.params.id);
    return reply.status(204).send();
  });

  app.get('/api/workers', async () => ({ workers: await ctx.store.workers() }));

  app.get('/api/stats', async () => {
    const queues = await ctx.store.counts();
    return { queues, totals: sumCounts(queues), workers: (await ctx.store.workers()).length };
  });
}
