/**
 * Remote workers over HTTP: any language can claim (long-poll), heartbeat, report and
 * finish jobs. These are the Store's own batched calls, so a remote worker gets the same
 * leases and fencing as an in-process one.
 */
import type { FastifyInstance } from 'fastify';
import { validateQueueName } from '../../core/options.ts';
import type { JobUpdate, Outcome } from '../../stores/store.ts';
import type { ServerContext } from '../context.ts';

const lease = { type: 'object', properties: { id: { type: 'string' }, token: { type: 'string' } }, required: ['id', 'token'], additionalProperties: false } as const;

export function remoteWorkerRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: { workerId: string; queues: string[]; names?: string[]; limit?: number; leaseMs?: number; waitMs?: number } }>(
    '/api/worker/claim',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            workerId: { type: 'string', minLength: 1, maxLength: 200 },
            queues: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 100 },
            names: { type: 'array', items: { type: 'string' }, maxItems: 1000 },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
            leaseMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
            waitMs: { type: 'integer', minimum: 0, maximum: 60_000 },
          },
          required: ['workerId', 'queues'],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const b = req.body;
      b.queues.forEach((q) => validateQueueName(q));
      const claim = () => ctx.store.claim({ queues: b.queues, workerId: b.workerId, limit: b.limit ?? 1, leaseMs: b.leaseMs ?? 30_000, ...(b.names ? { names: b.names } : {}) });
      let jobs = await claim();
      const deadline = Date.now() + (b.waitMs ?? 0);
      const abort = new AbortController();
      req.raw.on('close', () => abort.abort());
      // Long poll: sleep in store.wait (woken by new work), never in a loop of our own.
      while (jobs.length === 0 && Date.now() < deadline && !abort.signal.aborted) {
        await ctx.store.wait(b.queues, deadline - Date.now(), abort.signal);
        jobs = await claim();
      }
      return { jobs };
    },
  );

  app.post<{ Body: { leases: { id: string; token: string }[]; leaseMs?: number } }>(
    '/api/worker/extend',
    { schema: { body: { type: 'object', properties: { leases: { type: 'array', items: lease, maxItems: 1000 }, leaseMs: { type: 'integer', minimum: 100, maximum: 3_600_000 } }, required: ['leases'], additionalProperties: false } } },
    async (req) => ({ held: await ctx.store.extend(req.body.leases, req.body.leaseMs ?? 30_000) }),
  );

  app.post<{ Body: { outcomes: Outcome[] } }>(
    '/api/worker/finish',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            outcomes: {
              type: 'array',
              maxItems: 1000,
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  token: { type: 'string' },
                  kind: { enum: ['completed', 'failed'] },
                  result: {},
                  error: { type: 'object', properties: { message: { type: 'string' }, stack: { type: ['string', 'null'] } }, required: ['message'], additionalProperties: false },
                  retry: { type: 'boolean' },
                  retryDelayMs: { type: 'integer', minimum: 0 },
                },
                required: ['id', 'token', 'kind'],
                additionalProperties: false,
              },
            },
          },
          required: ['outcomes'],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      for (const o of req.body.outcomes) {
        if (o.kind === 'failed' && !o.error) o.error = { message: 'failed (no message given)' };
      }
      return { applied: await ctx.store.finish(req.body.outcomes) };
    },
  );

  app.post<{ Body: { updates: JobUpdate[] } }>(
    '/api/worker/update',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            updates: {
              type: 'array',
              maxItems: 1000,
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  token: { type: 'string' },
                  progress: { type: 'number', minimum: 0, maximum: 100 },
                  message: { type: ['string', 'null'], maxLength: 2000 },
                  logs: { type: 'array', maxItems: 1000, items: { type: 'object', properties: { stream: { enum: ['log', 'stdout', 'stderr'] }, line: { type: 'string' } }, required: ['stream', 'line'], additionalProperties: false } },
                },
                required: ['id', 'token'],
                additionalProperties: false,
              },
            },
          },
          required: ['updates'],
          additionalProperties: false,
        },
      },
    },
    async (req) => ({ applied: await ctx.store.update(req.body.updates) }),
  );
}
