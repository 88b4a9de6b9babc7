/** Live job events as Server-Sent Events: all, per queue (?queue=) or per job (?job=). */
import type { FastifyInstance } from 'fastify';
import type { JobEvent } from '../../stores/store.ts';
import type { ServerContext } from '../context.ts';

const HEARTBEAT_MS = 15_000;

export function eventRoutes(app: FastifyInstance, ctx: ServerContext, open: Set<() => void>): void {
  app.get<{ Querystring: { queue?: string; job?: string } }>(
    '/api/events',
    { schema: { querystring: { type: 'object', properties: { queue: { type: 'string' }, job: { type: 'string' } }, additionalProperties: false } } },
    (req, reply) => {
      const { queue, job } = req.query;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(': connected\n\n');
      const send = (e: JobEvent) => {
        if (queue && e.queue !== queue) return;
        if (job && e.jobId !== job) return;
        res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      };
      const unsubscribe = ctx.store.subscribe(send);
      const beat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
      const close = () => {
        clearInterval(beat);
        unsubscribe();
        open.delete(close);
        res.end();
      };
      open.add(close);
      req.raw.on('close', close);
    },
  );
}
