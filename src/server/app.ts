/**
 * The Fastify app: REST, JSON-RPC, the upload API (/queue/*), SSE, remote workers, metrics. Built
 * in-process (tests use app.inject) and started by start.ts / `conveyor serve`.
 */
import { withTraceHeaders } from '../telemetry/tracing.ts';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Ajv } from 'ajv';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Store } from '../stores/store.ts';
import { installAuth } from './auth.ts';
import { installGuard } from './request-guard.ts';
import { redacting } from './log-redaction.ts';
import { ServerContext } from './context.ts';
import { errorBody, errorHandler, parseJsonBody } from './http-errors.ts';
import { apiRoutes } from './routes/api.ts';
import { eventRoutes } from './routes/events.ts';
import { observabilityRoutes } from './routes/observability.ts';
import { remoteWorkerRoutes } from './routes/remote-workers.ts';
import { rpcRoutes } from './routes/rpc.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { uploadApiRoutes } from './routes/upload-api.ts';

export interface ServerOptions {
  store: Store;
  token?: string;
  /** Where uploads go (default: <tmp>/conveyor-uploads). */
  uploadDir?: string;
  /** Largest upload per file, bytes (default 50 MiB). */
  maxFileBytes?: number;
  /** Largest upload per request, all files together, bytes (default 200 MiB). */
  maxUploadBytes?: number;
  /** Largest JSON body, bytes (default 2 MiB). */
  bodyLimit?: number;
  logger?: boolean | object;
  /** Host names accepted besides IP literals and localhost (docs/security.md). */
  allowedHosts?: string[];
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ? redacting(options.logger) : false,
    bodyLimit: options.bodyLimit ?? 2 * 1024 * 1024,
    // Errors raised before routing (a path that is not valid percent-encoded UTF-8) in our
    // words too, not Fastify's FST_ codes.
    frameworkErrors: (_err, _req, reply) => void (reply as FastifyReply).code(400).send(errorBody('BAD_REQUEST', 'the URL is not valid: its path must be percent-encoded UTF-8')),
  });
  const ctx = new ServerContext(options.store, options.uploadDir ?? join(tmpdir(), 'conveyor-uploads'), options.maxUploadBytes);
  // Query strings and path params arrive as text and are coerced to their schema's types;
  // bodies are JSON and must already have the right types ({"name": 7} is refused).
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false });
  const strict = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));
  app.setErrorHandler(errorHandler);
  // JSON bodies by our own parser, so a refusal says what is refused.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // A POST with no body at all (curl -X POST …/cancel) means "no options", as it reads.
  app.addHook('preValidation', (req, _reply, done) => {
    if (req.method === 'POST' && req.body === undefined && !req.headers['content-type']) req.body = {};
    done();
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send(errorBody('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));
  installGuard(app, options.allowedHosts ? { allowedHosts: options.allowedHosts } : {});
  installAuth(app, options.token);
  // A traced client's context (its traceparent header) carries on into the adds it asks for.
  app.addHook('preHandler', (req, _reply, done) => withTraceHeaders(req.headers, done));
  await app.register(multipart, { limits: { fileSize: options.maxFileBytes ?? 50 * 1024 * 1024, files: 100, fields: 50, fieldSize: 10_000 } });
  // The OpenAPI document is generated from the same route schemas that validate requests.
  await app.register(swagger, {
    openapi: {
      info: { title: 'Conveyor', version: '0.1.0', description: 'Job queue HTTP API: REST, schedules, remote workers, and the upload API (/queue/submit with files, /queue/job, /queue/jobs, /queue/stats). JSON-RPC 2.0 is at POST /rpc (docs/http-api.md).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: options.token ? [{ bearer: [] }] : [],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  const streams = new Set<() => void>();
  apiRoutes(app, ctx);
  scheduleRoutes(app, ctx);
  remoteWorkerRoutes(app, ctx);
  eventRoutes(app, ctx, streams);
  rpcRoutes(app, ctx);
  uploadApiRoutes(app, ctx);
  const stopMetrics = observabilityRoutes(app, ctx);
  const dashboard = new URL('./dashboard.ts', import.meta.url);
  if (existsSync(dashboard)) await app.register((await import(dashboard.href)).default);
  else app.get('/', async (_req, reply) => reply.type('text/plain').send('Conveyor server. API: /api/queues, /api/jobs, /rpc, /health, /metrics (docs/http-api.md).\n'));
  app.addHook('onClose', async () => {
    for (const close of [...streams]) close();
    stopMetrics();
    await ctx.close();
  });
  return app;
}
