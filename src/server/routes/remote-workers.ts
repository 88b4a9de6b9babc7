/**
 * Remote workers over HTTP: any language can claim (long-poll), heartbeat, report and
 * finish jobs. These are the Store's own batched calls, so a remote worker gets the same
 * leases and fencing as an in-process one.
 */
import type { FastifyInstance } from 'fastify';
import { validateQueueName } from '../../core/options.ts';
import { ValidationError } from '../../core/errors.ts';
import { decideFailure, type Next } from '../../engine/transitions.ts';
import type { JobUpdate, Outcome, WorkerInfo } from '../../stores/store.ts';
import type { ServerContext } from '../context.ts';

/** What a remote worker reports: a result, or an error with its retry wishes. */
type RemoteOutcome =
  | { id: string; token: string; kind: 'completed'; result?: unknown }
  | { id: string; token: string; kind: 'failed'; error?: { message: string; stack?: string | null }; retry?: boolean; retryDelayMs?: number; next?: Next };

/**
 * Decides what becomes of each failed attempt, as an in-process Worker does (the engine,
 * from the job's attempts and backoff). A job that is gone or not active gets any decision:
 * its lease is gone too, so the finish is fenced out.
 */
async function decide(ctx: ServerContext, reports: RemoteOutcome[]): Promise<Outcome[]> {
  const now = ctx.store.clock.now();
  return Promise.all(
    reports.map(async (o): Promise<Outcome> => {
      if (o.kind === 'completed') return { id: o.id, token: o.token, kind: 'completed', result: o.result === undefined ? null : o.result };
      const error = o.error ?? { message: 'failed (no message given)' };
      // A Conveyor Worker decides for itself (its custom backoff functions run there).
      if (o.next) {
        if ((o.next.state === 'scheduled') !== ((o.next as { runAt?: number }).runAt !== undefined)) {
          throw new ValidationError('next.runAt is given exactly when next.state is "scheduled"', 'next.runAt');
        }
        return { id: o.id, token: o.token, kind: 'failed', error, next: o.next };
      }
      const job = await ctx.store.get(o.id);
      const report = { ...(o.retry === undefined ? {} : { retry: o.retry }), ...(o.retryDelayMs === undefined ? {} : { retryDelayMs: o.retryDelayMs }) };
      const next = job ? decideFailure(job, report, now) : ({ state: 'failed' } as const);
      return { id: o.id, token: o.token, kind: 'failed', error, next };
    }),
  );
}

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

  app.post<{ Body: { outcomes: RemoteOutcome[] } }>(
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
                  next: {
                    type: 'object',
                    description: 'an outcome the worker decided itself (instead of retry/retryDelayMs)',
                    properties: { state: { enum: ['failed', 'queued', 'scheduled'] }, runAt: { type: 'integer', minimum: 0 } },
                    required: ['state'],
                    additionalProperties: false,
                  },
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
    async (req) => ({ applied: await ctx.store.finish(await decide(ctx, req.body.outcomes)) }),
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

  app.post<{ Body: { info: WorkerInfo; ttlMs: number } }>(
    '/api/worker/report',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            info: {
              type: 'object',
              properties: {
                id: { type: 'string', minLength: 1, maxLength: 200 },
                name: { type: 'string', maxLength: 200 },
                host: { type: 'string', maxLength: 200 },
                pid: { type: 'integer' },
                queues: { type: 'array', items: { type: 'string' }, maxItems: 100 },
                concurrency: { type: 'integer', minimum: 1 },
                active: { type: 'array', items: { type: 'string' }, maxItems: 10_000 },
                startedAt: { type: 'integer' },
                lastSeen: { type: 'integer' },
                processed: { type: 'integer', minimum: 0 },
                failed: { type: 'integer', minimum: 0 },
              },
              required: ['id', 'name', 'host', 'pid', 'queues', 'concurrency', 'active', 'startedAt', 'lastSeen', 'processed', 'failed'],
              additionalProperties: false,
            },
            ttlMs: { type: 'integer', minimum: 100, maximum: 3_600_000 },
          },
          required: ['info', 'ttlMs'],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      await ctx.store.reportWorker(req.body.info, req.body.ttlMs);
      return { ok: true };
    },
  );

  app.post<{ Body: { id: string } }>(
    '/api/worker/remove',
    { schema: { body: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['id'], additionalProperties: false } } },
    async (req) => {
      await ctx.store.removeWorker(req.body.id);
      return { ok: true };
    },
  );
}
