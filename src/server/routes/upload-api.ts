/**
 * The upload API: a job service under /queue/* (submit files, status with progress, list,
 * stats, cancel), so clients written for that shape of service work
 * unchanged: POST /queue/submit (multipart images), GET /queue/job/:id, GET /queue/jobs,
 * GET /queue/stats, POST /queue/job/:id/cancel. Jobs go to the queue "images" (or ?queue=).
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import { ValidationError } from '../../core/errors.ts';
import type { Job } from '../../core/job.ts';
import type { ServerContext } from '../context.ts';
import { parseStates } from './api.ts';

const STATUS: Record<string, string> = { pending: 'queued', scheduled: 'queued', deferred: 'queued', queued: 'queued', active: 'processing', completed: 'completed', failed: 'failed', canceled: 'cancelled' };

function view(job: Job) {
  const files = ((job.data as { files?: unknown[] })?.files ?? []) as unknown[];
  const total = files.length || 1;
  const processed = job.state === 'completed' ? total : Math.floor((job.progress / 100) * total);
  return {
    job_id: job.id,
    status: STATUS[job.state],
    state: job.state,
    progress: { processed, total, percent: job.progress },
    message: job.message,
    files_count: files.length,
    result: job.result,
    error: job.errors.length ? job.errors[job.errors.length - 1].message : null,
    created_at: new Date(job.createdAt).toISOString(),
    started_at: job.startedAt ? new Date(job.startedAt).toISOString() : null,
    completed_at: job.finishedAt ? new Date(job.finishedAt).toISOString() : null,
  };
}

/** Only a safe extension survives from the client's file name; the rest is ours. */
function safeExt(filename: string): string {
  const ext = extname(filename).toLowerCase();
  return /^\.[a-z0-9]{1,8}$/.test(ext) ? ext : '';
}

export function uploadApiRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Querystring: Record<string, string> }>('/queue/submit', async (req, reply) => {
    if (!req.isMultipart()) throw new ValidationError('send the files as multipart/form-data (curl -F "images=@a.jpg")', 'images');
    const queue = ctx.queue(req.query.queue ?? 'images');
    const name = req.query.job_type ?? 'process-images';
    const dir = join(ctx.uploadDir, randomUUID());
    await mkdir(dir, { recursive: true });
    const files: { name: string; path: string; size: number; field: string }[] = [];
    const fields: Record<string, string> = {};
    try {
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          const path = join(dir, `${files.length + 1}${safeExt(part.filename ?? '')}`);
          await pipeline(part.file, createWriteStream(path));
          if (part.file.truncated) throw new ValidationError(`file ${files.length + 1} is larger than the upload limit`, part.fieldname);
          files.push({ name: (part.filename ?? '').slice(0, 255), path, size: part.file.bytesRead, field: part.fieldname });
        } else if (typeof part.value === 'string') {
          fields[part.fieldname] = part.value.slice(0, 10_000);
        }
      }
      if (files.length === 0) throw new ValidationError('no files in the upload (field "images")', 'images');
      const { model: _m, queue: _q, job_type: _j, ...options } = req.query;
      const r = await queue.add(name, { files, options: { ...options, ...fields } });
      return reply.status(202).send({ job_id: r.id, status: 'queued', files_count: files.length });
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  });

  app.get<{ Params: { id: string } }>('/queue/job/:id', async (req) => view((await ctx.job(req.params.id)).job));

  app.get<{ Querystring: { status?: string; limit?: number; queue?: string } }>(
    '/queue/jobs',
    { schema: { querystring: { type: 'object', properties: { status: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 1000 }, queue: { type: 'string' } } } } },
    async (req) => {
      const s = req.query.status === 'processing' ? 'active' : req.query.status === 'cancelled' ? 'canceled' : req.query.status;
      const states = parseStates(s);
      const page = await ctx.store.list({ ...(req.query.queue ? { queue: req.query.queue } : {}), ...(states ? { states } : {}), limit: req.query.limit ?? 50 });
      return { jobs: page.jobs.map(view), total: page.jobs.length, next: page.next };
    },
  );

  app.get('/queue/stats', async () => {
    const all = await ctx.store.counts();
    const sum = (...s: (keyof (typeof all)[string])[]) => Object.values(all).reduce((n, c) => n + s.reduce((m, k) => m + c[k], 0), 0);
    return {
      queued: sum('pending', 'scheduled', 'deferred', 'queued'),
      processing: sum('active'),
      completed: sum('completed'),
      failed: sum('failed'),
      cancelled: sum('canceled'),
      total: sum('pending', 'scheduled', 'deferred', 'queued', 'active', 'completed', 'failed', 'canceled'),
      queues: all,
    };
  });

  app.post<{ Params: { id: string } }>('/queue/job/:id/cancel', async (req) => {
    const { queue } = await ctx.job(req.params.id);
    return view(await queue.cancel(req.params.id, 'cancelled by request'));
  });
}
