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
  const duration = new Histogram({ name: 'conveyor_job_duration_seconds', help: 'Time from start to finish', labelNames: ['queue'], buckets: [0.005, 0.05, 0.25, 1, 5, 30, 120, 600], registers: [registry] });
  const wait = new Histogram({ name: 'conveyor_job_wait_seconds', help: 'Time from creation to start', labelNames: ['queue'], buckets: [0.001, 0.01, 0.1, 1, 10, 60, 600], registers: [registry] });
  // Per-minute outcomes of the last hour, for the dashboard's chart (since this server started).
  const minutes = new Map<number, { completed: number; failed: number }>();
  app.get('/api/stats/history', async () => {
    const now = Math.floor(Date.now() / 60_000);
    const out = [];
    for (let m = now - 59; m <= now; m++) out.push({ at: m * 60_000, ...(minutes.get(m) ?? { completed: 0, failed: 0 }) });
    return { minutes: out };
  });
  const unsubscribe = ctx.store.subscribe((e) => {
    if (e.type === 'completed' || e.type === 'failed' || e.type === 'canceled') {
      finished.inc({ queue: e.queue, outcome: e.type });
      const m = Math.floor(e.at / 60_000);
      const bucket = minutes.get(m) ?? { completed: 0, failed: 0 };
      if (e.type === 'completed') bucket.completed++;
      if (e.type === 'failed') bucket.failed++;
      minutes.set(m, bucket);
      if (minutes.size > 61) minutes.delete(Math.min(...minutes.keys()));
      if (e.type === 'completed' && e.jobId) {
        void ctx.store.get(e.jobId).then((j) => {
          if (j?.startedAt) duration.observe({ queue: e.queue }, (e.at - j.startedAt) / 1000);
          if (j?.startedAt) wait.observe({ queue: e.queue }, Math.max(0, j.startedAt - j.createdAt) / 1000);
        }, () => {});
      }
    }
  });
  app.get('/metrics', async (_req, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
  return unsubscribe;
}
