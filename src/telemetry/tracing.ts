/**
 * OpenTelemetry tracing, when the application uses it. `@opentelemetry/api` is an optional
 * peer dependency: with it installed and a tracer provider registered (the application's
 * SDK set-up), an add runs in a producer span whose W3C context is stored on the job
 * (`job.trace`), and each attempt runs in a consumer span that continues that trace, so one
 * trace follows a job from the code that added it through the server to the worker.
 * Without the package every function here is a pass-through.
 *
 * Spans follow OpenTelemetry's messaging conventions: `send <queue>` (PRODUCER) and
 * `process <queue>` (CONSUMER), attributes `messaging.system` = conveyor,
 * `messaging.destination.name`, `messaging.message.id`, plus `conveyor.job.name`,
 * `conveyor.job.attempt` and, when an attempt ends, `conveyor.job.outcome`.
 */
import type * as Otel from '@opentelemetry/api';
import type { Job } from '../core/job.ts';

type Api = typeof Otel;

let api: Api | null = null;
try {
  api = await import('@opentelemetry/api');
} catch {
  // Not installed: the application does not trace.
  api = null;
}

const TRACER = 'conveyor';

function tracer(a: Api): Otel.Tracer {
  return a.trace.getTracer(TRACER);
}

function fail(a: Api, span: Otel.Span, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: a.SpanStatusCode.ERROR, message: e.message });
}

/**
 * Runs an add of `count` jobs to `queue` in a producer span. `fn` receives the trace
 * context to store on the jobs (null when nothing is traced).
 */
export async function tracedAdd<T>(queue: string, count: number, fn: (trace: string | null) => Promise<T>): Promise<T> {
  const a = api;
  if (!a) return fn(null);
  return tracer(a).startActiveSpan(
    `send ${queue}`,
    {
      kind: a.SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'conveyor', 'messaging.destination.name': queue, 'messaging.operation.type': 'send', 'messaging.batch.message_count': count },
    },
    async (span) => {
      try {
        const carrier: Record<string, string> = {};
        a.propagation.inject(a.context.active(), carrier);
        return await fn(carrier.traceparent ?? null);
      } catch (err) {
        fail(a, span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** Adds the active trace context to outgoing request headers (a client calling a server). */
export function injectTraceHeaders(headers: Record<string, string>): Record<string, string> {
  api?.propagation.inject(api.context.active(), headers);
  return headers;
}

/**
 * Runs `fn` in the trace context that incoming request headers carry (none: as is), so an
 * add made for a traced client continues the client's trace.
 */
export function withTraceHeaders<T>(headers: Record<string, string | string[] | undefined>, fn: () => T): T {
  const a = api;
  if (!a || headers.traceparent === undefined) return fn();
  return a.context.with(a.propagation.extract(a.context.active(), headers), fn);
}

/** One attempt's consumer span: run the handler in it, end it with the outcome. */
export interface AttemptSpan {
  run<T>(fn: () => T): T;
  end(outcome: 'completed' | 'retrying' | 'failed' | 'aborted', error?: Error | null): void;
}

/** Starts the span of a job's attempt, continuing the trace of its add; null when tracing is off. */
export function startAttemptSpan(job: Job): AttemptSpan | null {
  const a = api;
  if (!a) return null;
  const parent = job.trace ? a.propagation.extract(a.ROOT_CONTEXT, { traceparent: job.trace }) : a.context.active();
  const span = tracer(a).startSpan(
    `process ${job.queue}`,
    {
      kind: a.SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'conveyor',
        'messaging.destination.name': job.queue,
        'messaging.operation.type': 'process',
        'messaging.message.id': job.id,
        'conveyor.job.name': job.name,
        'conveyor.job.attempt': job.attempt,
      },
    },
    parent,
  );
  const ctx = a.trace.setSpan(parent, span);
  return {
    run: (fn) => a.context.with(ctx, fn),
    end: (outcome, error) => {
      span.setAttribute('conveyor.job.outcome', outcome);
      if (error && outcome !== 'completed') fail(a, span, error);
      span.end();
    },
  };
}
