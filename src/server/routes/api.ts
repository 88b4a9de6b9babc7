/** REST routes for queues and jobs (docs/http-api.md). */
import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../../core/errors.ts';
import { parseState, type JobState } from '../../core/states.ts';
import { sumCounts } from '../../client/client.ts';
import type { ServerContext } from '../context.ts';

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

  app.patch<{ Params: { queue: string }; Body: Record<string, unknown> }>(
    '/api/queues/:queue',
    { schema: { params: queueParam, body: { type: 'object' } } },
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
