/** REST routes for schedules: recurring jobs by cron or interval (docs/schedules.md). */
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../core/errors.ts';
import type { Schedule, ScheduleSpec } from '../../core/schedule.ts';
import { upcoming } from '../../engine/schedule.ts';
import type { ServerContext } from '../context.ts';

const params = {
  type: 'object',
  properties: { queue: { type: 'string', minLength: 1, maxLength: 128 }, id: { type: 'string', minLength: 1, maxLength: 256 } },
  required: ['queue', 'id'],
} as const;
const queueParam = { type: 'object', properties: { queue: { type: 'string', minLength: 1, maxLength: 128 } }, required: ['queue'] } as const;

/** The body of PUT: a schedule spec (checked again, field by field, by buildSchedule). */
export const scheduleSpecSchema = {
  type: 'object',
  description: 'Give either cron (with tz) or every.',
  properties: {
    cron: { type: 'string', description: 'cron expression of 5 fields (minute first) or 6 (seconds first)', maxLength: 200 },
    tz: { type: 'string', description: 'IANA time zone of the cron expression (default UTC)', maxLength: 100 },
    every: { type: 'integer', minimum: 1000, description: 'run every this many ms (at least 1000)' },
    name: { type: 'string', description: 'the job name each run adds' },
    data: { description: 'the data of each job' },
    opts: { type: 'object', description: 'job options of each run (not jobId, delay, runAt, dependsOn, start)' },
    startAt: { type: 'integer', minimum: 0, description: 'no run before (ms since the epoch)' },
    endAt: { type: 'integer', minimum: 0, description: 'no run after (ms since the epoch)' },
    limit: { type: 'integer', minimum: 1, description: 'runs in all' },
    overlap: { enum: ['allow', 'skip'], description: 'skip: no run while the previous job is unfinished' },
    catchUp: { enum: ['none', 'one', 'all'], description: 'runs missed while no process did upkeep (default one)' },
    paused: { type: 'boolean' },
  },
  required: ['name'],
  additionalProperties: false,
} as const;

/** A schedule as the API shows it: with its next three run times. */
export function view(s: Schedule): Schedule & { upcoming: number[] } {
  return { ...s, upcoming: s.paused ? [] : upcoming(s, 3) };
}

export function scheduleRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/schedules', async () => ({ schedules: (await ctx.store.schedules()).map(view) }));

  app.get<{ Params: { queue: string } }>('/api/queues/:queue/schedules', { schema: { params: queueParam } }, async (req) => ({
    schedules: (await ctx.queue(req.params.queue).schedules()).map(view),
  }));

  app.get<{ Params: { queue: string; id: string } }>('/api/queues/:queue/schedules/:id', { schema: { params } }, async (req) => {
    const s = await ctx.queue(req.params.queue).getSchedule(req.params.id);
    if (!s) throw new NotFoundError(`schedule ${req.params.id} not found in queue ${req.params.queue}`);
    return view(s);
  });

  app.put<{ Params: { queue: string; id: string }; Body: ScheduleSpec }>(
    '/api/queues/:queue/schedules/:id',
    { schema: { params, body: scheduleSpecSchema } },
    async (req) => view(await ctx.queue(req.params.queue).schedule(req.params.id, req.body)),
  );

  app.delete<{ Params: { queue: string; id: string } }>('/api/queues/:queue/schedules/:id', { schema: { params } }, async (req, reply) => {
    if (!(await ctx.queue(req.params.queue).unschedule(req.params.id))) throw new NotFoundError(`schedule ${req.params.id} not found in queue ${req.params.queue}`);
    return reply.status(204).send();
  });

  for (const action of ['pause', 'resume'] as const) {
    app.post<{ Params: { queue: string; id: string } }>(`/api/queues/:queue/schedules/:id/${action}`, { schema: { params } }, async (req) => {
      const q = ctx.queue(req.params.queue);
      return view(action === 'pause' ? await q.pauseSchedule(req.params.id) : await q.resumeSchedule(req.params.id));
    });
  }
}
