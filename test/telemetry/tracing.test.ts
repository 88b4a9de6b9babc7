/**
 * OpenTelemetry: one trace follows a job from a traced client, through the server's add,
 * to the worker's attempts, with the SDK's in-memory exporter (no collector). The SDK is
 * registered globally, as an application would; node --test runs this file in its own
 * process, so no other test sees it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import type { FastifyInstance } from 'fastify';
import { HttpClient } from '../../src/client/http.ts';
import { Queue } from '../../src/queue.ts';
import { buildServer } from '../../src/server/app.ts';
import { MemoryStore } from '../../src/stores/memory/memory-store.ts';
import { Worker } from '../../src/worker/worker.ts';

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
trace.setGlobalTracerProvider(provider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const tracer = trace.getTracer('test');

const store = new MemoryStore();
let app: FastifyInstance;
let url: string;
before(async () => {
  app = await buildServer({ store });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  await app.close();
  await store.close();
});

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

test('one trace: a traced client adds over HTTP, the server adds, the worker runs it; the handler runs inside the attempt span', async () => {
  exporter.reset();
  const worker = new Worker(store, {
    queues: ['emails'],
    maintainMs: 0,
    handlers: { send: async () => tracer.startActiveSpan('render', (s) => s.end()) },
  });
  await worker.start();
  try {
    const client = new HttpClient(url);
    const id = await tracer.startActiveSpan('checkout', async (root) => {
      const [r] = await client.add('emails', [{ name: 'send', data: { to: 'a@b.c' } }]);
      root.end();
      return r.id;
    });
    await new Queue(store, 'emails').waitUntilFinished(id, 10_000);
    await worker.close();
    // The processor exports each ended span on its own promise.
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const [root] = byName(spans, 'checkout');
    const sends = byName(spans, 'send emails');
    const [processed] = byName(spans, 'process emails');
    const [render] = byName(spans, 'render');
    assert.equal(sends.length, 2, 'the client and the server each open a producer span');
    assert.ok(root && processed && render, spans.map((s) => s.name).join(', '));
    assert.deepEqual(new Set(spans.map((s) => s.spanContext().traceId)), new Set([root.spanContext().traceId]), 'every span is in one trace');
    const clientSend = sends.find((s) => parentOf(s) === root.spanContext().spanId)!;
    const serverSend = sends.find((s) => parentOf(s) === clientSend.spanContext().spanId)!;
    assert.ok(clientSend && serverSend, 'client send → server send');
    assert.equal(parentOf(processed), serverSend.spanContext().spanId, 'the attempt continues the add stored on the job');
    assert.equal(parentOf(render), processed.spanContext().spanId, "the handler's own spans are children of the attempt");
    assert.equal(serverSend.kind, SpanKind.PRODUCER);
    assert.equal(processed.kind, SpanKind.CONSUMER);
    assert.deepEqual(
      [processed.attributes['messaging.destination.name'], processed.attributes['messaging.message.id'], processed.attributes['conveyor.job.name'], processed.attributes['conveyor.job.attempt'], processed.attributes['conveyor.job.outcome']],
      ['emails', id, 'send', 1, 'completed'],
    );
    assert.equal((await store.get(id))!.trace?.split('-')[1], root.spanContext().traceId, "the job keeps its add's trace context");
    // /metrics: wait and run time per queue and job name.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /^conveyor_job_duration_seconds_count\{queue="emails",name="send"\} 1$/m);
    assert.match(metrics, /^conveyor_job_wait_seconds_count\{queue="emails",name="send"\} 1$/m);
  } finally {
    await worker.close();
  }
});

test('each attempt is a span of the same trace: a retry, then the final failure marked as an error', async () => {
  exporter.reset();
  const queue = new Queue(store, 'flaky');
  const worker = new Worker(store, {
    queues: ['flaky'],
    maintainMs: 0,
    handlers: {
      boom: () => {
        throw new Error('no luck');
      },
    },
  });
  await worker.start();
  try {
    const { id } = await queue.add('boom', {}, { attempts: 2, backoff: { type: 'fixed', delay: 0 } });
    assert.equal((await queue.waitUntilFinished(id, 10_000)).state, 'failed');
    await worker.close();
    // The processor exports each ended span on its own promise.
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const attempts = byName(spans, 'process flaky').sort((a, b) => Number(a.attributes['conveyor.job.attempt']) - Number(b.attributes['conveyor.job.attempt']));
    const [send] = byName(spans, 'send flaky');
    assert.deepEqual(attempts.map((s) => s.attributes['conveyor.job.outcome']), ['retrying', 'failed']);
    assert.ok(attempts.every((s) => parentOf(s) === send.spanContext().spanId && s.status.code === SpanStatusCode.ERROR));
    assert.equal(attempts[1].events.find((e) => e.name === 'exception')?.attributes?.['exception.message'], 'no luck');
  } finally {
    await worker.close();
  }
});
