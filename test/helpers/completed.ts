/**
 * What the multi-process tests (restarts, kill -9) share: the fixtures' run and ack files,
 * the completed jobs of a queue, and waiting until enough of them completed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Store } from '../../src/stores/store.ts';

/** The lines of a fixture's append-only record. */
export function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

/** Runs ("<jobId> <epoch ms>" lines) a worker fixture started after `t`. */
export function runsSince(file: string, t: number): number {
  return lines(file).filter((l) => Number(l.split(' ')[1]) > t).length;
}

export async function completedIds(store: Store, queue: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let cursor: string | null = null; ; ) {
    const page = await store.list({ queue, states: ['completed'], limit: 1000, cursor });
    for (const j of page.jobs) ids.add(j.id);
    if (!page.next) return ids;
    cursor = page.next;
  }
}

/**
 * Resolves once `n` jobs of the queue completed. Counts again on each 'completed' event of
 * the queue (from any process), and at least every second: events published while the
 * server was down are lost, and the count must still be seen.
 */
export async function untilCompleted(store: Store, queue: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let wake = (): void => undefined;
  const off = store.subscribe((e) => e.queue === queue && e.type === 'completed' && wake(), ['completed']);
  try {
    for (;;) {
      const c = await store.counts([queue]).catch(() => null);
      if (c && c[queue].completed >= n) return;
      if (Date.now() > deadline) assert.fail(`${n} jobs should have completed: ${JSON.stringify(c)}`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 1000).unref();
      });
    }
  } finally {
    off();
  }
}

/** Waits until every acknowledged id of the queue completed, and names any that did not. */
export async function assertAllCompleted(store: Store, queue: string, acked: string[], timeoutMs: number): Promise<void> {
  await untilCompleted(store, queue, acked.length, timeoutMs);
  const completed = await completedIds(store, queue);
  assert.deepEqual(
    acked.filter((id) => !completed.has(id)),
    [],
    'acknowledged jobs that did not complete',
  );
}
