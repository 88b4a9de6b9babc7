/** Shared by the runner tests: a worker per test, and waits on store events (no polling). */
import { once } from 'node:events';
import type { Job } from '../../src/core/job.ts';
import type { HostExit } from '../../src/runners/child/host.ts';
import type { PooledRunner } from '../../src/runners/child/pooled-runner.ts';
import type { JobEvent, Store } from '../../src/stores/store.ts';
import { Worker, type WorkerOptions } from '../../src/worker/worker.ts';

export const JOBS_MODULE = new URL('../fixtures/handlers/jobs.ts', import.meta.url);
export const JS_MODULE = new URL('../fixtures/handlers/default-export.js', import.meta.url);

/** Resolves with the first store event that matches. */
export function nextEvent(store: Store, match: (e: JobEvent) => boolean): Promise<JobEvent> {
  return new Promise((resolve) => {
    const off = store.subscribe((e) => {
      if (!match(e)) return;
      off();
      resolve(e);
    });
  });
}

/** Resolves with the job once it is completed, failed (for good) or canceled. */
export async function finished(store: Store, id: string): Promise<Job> {
  const ended = nextEvent(store, (e) => e.jobId === id && (e.type === 'completed' || e.type === 'failed' || e.type === 'canceled'));
  const now = await store.get(id);
  if (now && (now.state === 'completed' || now.state === 'failed' || now.state === 'canceled')) return now;
  await ended;
  return (await store.get(id))!;
}

/** Resolves once the job has written a log line: its handler is running. */
export async function firstLog(store: Store, id: string): Promise<void> {
  const logged = nextEvent(store, (e) => e.jobId === id && e.type === 'log');
  if ((await store.get(id))?.logCount) return;
  await logged;
}

export async function startWorker(store: Store, options: WorkerOptions): Promise<Worker> {
  const worker = new Worker(store, { maintainMs: 0, ...options });
  await worker.start();
  return worker;
}

/** The next exit of one of the runner's threads or children. */
export async function nextExit(runner: PooledRunner): Promise<HostExit> {
  const [exit] = (await once(runner, 'exit')) as [HostExit];
  return exit;
}

export function linesOf(logs: { stream: string; line: string }[], stream: string): string[] {
  return logs.filter((l) => l.stream === stream).map((l) => l.line);
}
