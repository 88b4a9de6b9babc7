/**
 * The upload API: a job service under /queue/* (submit files, status with progress, list,
 * stats, cancel), so clients written for that shape of service work
 * unchanged: POST /queue/submit (multipart images), GET /queue/job/:id, GET /queue/jobs,
 * GET /queue/stats, POST /queue/job/:id/cancel. Jobs go to the queue "images" (or ?queue=).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { newJobId } from '../../core/job-id.ts';
import type { FastifyInstance } from 'fastify';
import { ConveyorError, ValidationError } from '../../core/errors.ts';
import { httpStatusOf } from '../http-errors.ts';
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
    // The service's own spelling ("cancelled", "processing"); /api/jobs has Conveyor's states.
    status: STATUS[job.state],
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

const jobView = {
  type: 'object',
  description: 'A job as the upload API shows it',
  properties: {
    job_id: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'processing', 'completed', 'failed', 'cancelled'], description: 'this API\'s spelling (cancelled); /api/jobs/:id gives Conveyor\'s state' },
    progress: { type: 'object', properties: { processed: { type: 'integer' }, total: { type: 'integer' }, percent: { type: 'number' } } },
    message: { type: ['string', 'null'] },
    files_count: { type: 'integer' },
    result: { description: 'what the handler returned' },
    error: { type: ['string', 'null'], description: 'the last error message' },
    created_at: { type: 'string', format: 'date-time' },
    started_at: { type: ['string', 'null'], format: 'date-time' },
    completed_at: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;
const idParam = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['id'] } as const;

class PayloadTooLarge extends ConveyorError {
  constructor(message: string) {
    super('TOO_LARGE', message);
  }
}

/** Reads and drops the rest of a request body, up to `max` bytes (then the connection is cut). */
function discard(stream: NodeJS.ReadableStream & { destroy(): void }, max: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => resolve();
    stream.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > max) {
        stream.destroy();
        done();
      }
    });
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
    stream.resume();
  });
}

/** Passes a file through, charging its bytes to the whole upload's budget. */
function charge(used: { bytes: number }, max: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      used.bytes += chunk.length;
      if (used.bytes > max) done(new PayloadTooLarge(`the upload is larger than ${max} bytes in all files`));
      else done(null, chunk);
    },
  });
}

/** Only a safe extension survives from the client's file name; the rest is ours. */
function safeExt(filename: string): string {
  const ext = extname(filename).toLowerCase();
  return /^\.[a-z0-9]{1,8}$/.test(ext) ? ext : '';
}

/**
 * Uploaded files go with their job: removed when it is (by a user or by retention), and a
 * sweep at start and every hour removes folders whose job no longer exists (removed while
 * no server was listening).
 */
function removeFilesWithJobs(app: FastifyInstance, ctx: ServerContext): void {
  const drop = (id: string) => rm(join(ctx.uploadDir, id), { recursive: true, force: true }).catch(() => {});
  const unsubscribe = ctx.store.subscribe((e) => {
    if (e.type === 'removed' && e.jobId && !/[/\\]|^\.\.?$/.test(e.jobId)) void drop(e.jobId);
  });
  const sweep = async () => {
    const names = await readdir(ctx.uploadDir).catch(() => [] as string[]);
    for (const id of names) if ((await ctx.store.get(id).catch(() => undefined)) === null) await drop(id);
  };
  void sweep();
  const timer = setInterval(() => void sweep(), 3_600_000).unref();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    unsubscribe();
  });
}

export function uploadApiRoutes(app: FastifyInstance, ctx: ServerContext): void {
  removeFilesWithJobs(app, ctx);
  app.post<{ Querystring: Record<string, string> }>(
    '/queue/submit',
    {
      schema: {
        summary: 'Submit files as one job',
        description:
          'multipart/form-data with one or more files (field "images"). The job\'s data is {files: [{name, path, size, field}], options}: options holds the other form fields and every query field but queue and job_type (e.g. ?model=u2net). Files are stored under generated names in the upload directory.',
        querystring: {
          type: 'object',
          properties: { queue: { type: 'string', description: 'queue (default "images")' }, job_type: { type: 'string', description: 'job name (default "process-images")' } },
          additionalProperties: { type: 'string' },
        },
        response: {
          202: { description: 'Accepted: the job is queued', type: 'object', properties: { job_id: { type: 'string' }, status: { type: 'string', enum: ['queued'] }, files_count: { type: 'integer' } } },
        },
      },
    },
    async (req, reply) => {
    if (!req.isMultipart()) throw new ValidationError('send the files as multipart/form-data (curl -F "images=@a.jpg")', 'images');
    const queue = ctx.queue(req.query.queue ?? 'images');
    const name = req.query.job_type ?? 'process-images';
    // The files live in a folder named after their job, so removing the job can remove them.
    const jobId = newJobId();
    const dir = join(ctx.uploadDir, jobId);
    await mkdir(dir, { recursive: true });
    const files: { name: string; path: string; size: number; field: string }[] = [];
    const fields: Record<string, string> = {};
    const used = { bytes: 0 };
    try {
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          const path = join(dir, `${files.length + 1}${safeExt(part.filename ?? '')}`);
          await pipeline(part.file, charge(used, ctx.maxUploadBytes), createWriteStream(path));
          if (part.file.truncated) throw new ValidationError(`file ${files.length + 1} is larger than the upload limit`, part.fieldname);
          files.push({ name: (part.filename ?? '').slice(0, 255), path, size: part.file.bytesRead, field: part.fieldname });
        } else if (typeof part.value === 'string') {
          fields[part.fieldname] = part.value.slice(0, 10_000);
        }
      }
      if (files.length === 0) throw new ValidationError('no files in the upload (field "images")', 'images');
      // Every query field but the routing ones reaches the handler (?model=u2net included).
      const { queue: _q, job_type: _j, ...options } = req.query;
      const r = await queue.add(name, { files, options: { ...options, ...fields } }, { jobId });
      return reply.status(202).send({ job_id: r.id, status: 'queued', files_count: files.length });
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      // Read (and drop) what the client still sends, up to the limit again, so it hears the 413.
      if (err instanceof PayloadTooLarge) await discard(req.raw, ctx.maxUploadBytes);
      // A garbled body (the multipart parser's own errors carry no HTTP status) is the client's.
      if (!(err instanceof ConveyorError) && httpStatusOf(err) >= 500) throw new ValidationError(`the multipart body is malformed: ${(err as Error).message}`, 'images');
      throw err;
    }
  },
  );

  app.get<{ Params: { id: string } }>('/queue/job/:id', { schema: { summary: 'A job\'s status and progress', params: idParam, response: { 200: jobView } } }, async (req) => view((await ctx.job(req.params.id)).job));

  app.get<{ Querystring: { status?: string; limit?: number; queue?: string } }>(
    '/queue/jobs',
    {
      schema: {
        summary: 'Jobs, newest first',
        querystring: { type: 'object', properties: { status: { type: 'string', description: 'queued, processing, completed, failed, cancelled (or Conveyor\'s names)' }, limit: { type: 'integer', minimum: 1, maximum: 1000 }, queue: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { jobs: { type: 'array', items: jobView }, total: { type: 'integer', description: 'jobs matching the filter, all pages' }, next: { type: ['string', 'null'] } } } },
      },
    },
    async (req) => {
      const s = req.query.status === 'processing' ? 'active' : req.query.status === 'cancelled' ? 'canceled' : req.query.status;
      const states = parseStates(s);
      const page = await ctx.store.list({ ...(req.query.queue ? { queue: req.query.queue } : {}), ...(states ? { states } : {}), limit: req.query.limit ?? 50 });
      // total: every job the filter matches, not this page's length.
      const counts = await ctx.store.counts(req.query.queue ? [req.query.queue] : undefined);
      const total = Object.values(counts).reduce((n, c) => n + (states ?? (Object.keys(c) as (keyof typeof c)[])).reduce((m, st) => m + c[st], 0), 0);
      return { jobs: page.jobs.map(view), total, next: page.next };
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

  app.post<{ Params: { id: string } }>('/queue/job/:id/cancel', { schema: { summary: 'Cancel a job', params: idParam, response: { 200: jobView } } }, async (req) => {
    const { queue } = await ctx.job(req.params.id);
    return view(await queue.cancel(req.params.id, 'cancelled by request'));
  });
}
