/** /health (open even with a token) and Prometheus /metrics. */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JOB_STATES } from '../../core/states.ts';
import type { ServerContext } from '../context.ts';

export function observabilityRoutes(app: FastifyInstance, ctx: ServerContext): () => void {
  app.get('/health', async (_req, reply) => {
    try {
      const problem = await ctx.store.problem();
      if (problem) return reply.status(503).send({ status: 'degraded', store: { kind: ctx.store.kind, location: ctx.store.location }, problem });
      const queues = await ctx.store.queues();
      return { status: 'ok', store: { kind: ctx.store.kind, location: ctx.store.location }, queues: queues.length, workers: (await ctx.store.workers()).length, uptimeMs: Date.now() - ctx.startedAt };
    } catch (err) {
      return reply.status(503).send({ status: 'unavailable', error: (err as Error).message });
    }
  });

  const registry = new Registry();
  new Gauge({
    name: 'conveyor_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [queue, counts] of Object.entries(await ctx.store.counts())) for (const s of JOB_STATES) this.set({ queue, state: s }, counts[s]);
    },
  });
  // Kept by the store with each schedule, so every server reports the same totals whichever process ran the ticks.
  for (const [name, help, field] of [
    ['conveyor_schedule_runs_total', 'Jobs added by each schedule', 'runs'],
    ['conveyor_schedule_skips_total', 'Runs of each schedule skipped (overlap, missed while nothing ran, full queue)', 'skips'],
  ] as const) {
    new Gauge({
      name,
      help,
      labelNames: ['queue', 'schedule'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const sc of await ctx.store.schedules()) this.set({ queue: sc.queue, schedule: sc.id }, sc[field]);
      },
    });
  }
  const finished = new Counter({ name: 'conveyor_jobs_finished_total', help: 'Jobs finished, seen by this server', labelNames: ['queue', 'outcome'], registers: [registry] });
  const duration = new Histogram({ name: 'conveyor_job_duration_seconds', help: 'Time from start to finish of completed jobs', labelNames: ['queue', 'name'], buckets: [0.005, 0.05, 0.25, 1, 5, 30, 120, 600], registers: [registry] });
  const wait = new Histogram({ name: 'conveyor_job_wait_seconds', help: 'Time from creation to the last start of completed jobs', labelNames: ['queue', 'name'], buckets: [0.001, 0.01, 0.1, 1, 10, 60, 600], registers: [registry] });
  // Finished jobs per minute, kept by the store (the dashboard's chart): every minute of the
  // span, zeros included, summed over the queues asked for (all by default).
  app.get<{ Querystring: { minutes?: number; queue?: string } }>(
    '/api/stats/history',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { minutes: { type: 'integer', minimum: 1, maximum: 1440 }, queue: { type: 'string', minLength: 1, maxLength: 128 } },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const span = req.query.minutes ?? 60;
      const last = Math.floor(ctx.store.clock.now() / 60_000) * 60_000;
      const first = last - (span - 1) * 60_000;
      const totals = new Map<number, { completed: number; failed: number }>();
      for (const t of await ctx.store.history(first, req.query.queue === undefined ? undefined : [req.query.queue])) {
        const m = totals.get(t.at) ?? { completed: 0, failed: 0 };
        m.completed += t.completed;
        m.failed += t.failed;
        totals.set(t.at, m);
      }
      const out = [];
      for (let at = first; at <= last; at += 60_000) out.push({ at, ...(totals.get(at) ?? { completed: 0, failed: 0 }) });
      return { minutes: out };
    },
  );
  const unsubscribe = ctx.store.subscribe((e) => {
    if (e.type === 'completed' || e.type === 'failed' || e.type === 'canceled') {
      finished.inc({ queue: e.queue, outcome: e.type });
      if (e.type === 'completed' && e.jobId) {
        void ctx.store.get(e.jobId).then((j) => {
          if (!j?.startedAt) return;
          duration.observe({ queue: e.queue, name: j.name }, (e.at - j.startedAt) / 1000);
          wait.observe({ queue: e.queue, name: j.name }, Math.max(0, j.startedAt - j.createdAt) / 1000);
        }, () => {});
      }
    }
  });
  app.get('/metrics', async (_req, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
  return unsubscribe;
}
