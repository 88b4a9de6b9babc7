/**
 * The engine's decisions, alone: every backend applies exactly these (the contract suite
 * checks that they do), so the arithmetic is tested once, here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backoff } from '../../src/core/job.ts';
import { backoffDelay } from '../../src/engine/backoff.ts';
import { decideFailure, decideStall, stallOutcome, STALL_GRACE } from '../../src/engine/transitions.ts';

const NOW = 1_000_000;
const job = (attempt: number, maxAttempts: number, backoff: Backoff | null = null) => ({ attempt, maxAttempts, backoff });

test('each backoff kind schedules the retry after its delay for that attempt', () => {
  const cases: [Backoff, number[]][] = [
    [{ type: 'fixed', delay: 1500 }, [1500, 1500, 1500]],
    [{ type: 'exponential', delay: 1000, maxDelay: 3000 }, [1000, 2000, 3000]],
    [{ type: 'intervals', intervals: [100, 2500] }, [100, 2500, 2500]],
    [{ type: 'custom', name: 'mine', delay: 700 }, [700, 700, 700]],
  ];
  for (const [backoff, delays] of cases) {
    delays.forEach((d, i) => {
      assert.deepEqual(decideFailure(job(i + 1, 5, backoff), {}, NOW), { state: 'scheduled', runAt: NOW + d }, `${backoff.type} attempt ${i + 1}`);
    });
  }
});

test('no delay: straight back to queued; attempts used up or retry: false: failed', () => {
  assert.deepEqual(decideFailure(job(1, 3), {}, NOW), { state: 'queued' });
  assert.deepEqual(decideFailure(job(1, 3, { type: 'intervals', intervals: [0, 200] }), {}, NOW), { state: 'queued' });
  assert.deepEqual(decideFailure(job(3, 3, { type: 'fixed', delay: 10 }), {}, NOW), { state: 'failed' });
  assert.deepEqual(decideFailure(job(1, 3), { retry: false }, NOW), { state: 'failed' });
});

test("a worker's own delay (custom backoff function) overrides the stored backoff", () => {
  assert.deepEqual(decideFailure(job(1, 3, { type: 'fixed', delay: 10 }), { retryDelayMs: 60_000 }, NOW), { state: 'scheduled', runAt: NOW + 60_000 });
  assert.deepEqual(decideFailure(job(1, 3, { type: 'fixed', delay: 10 }), { retryDelayMs: 0 }, NOW), { state: 'queued' });
});

test('release: a job handed back at shutdown runs again now, even on its last attempt or when unrecoverable', () => {
  assert.deepEqual(decideFailure(job(1, 1), { release: true }, NOW), { state: 'queued' });
  assert.deepEqual(decideFailure(job(1, 1), { release: true, retry: false }, NOW), { state: 'queued' });
});

test('jitter spreads delays within its bounds; the random source is injectable', () => {
  const b: Backoff = { type: 'fixed', delay: 10_000, jitter: 0.5 };
  assert.equal(backoffDelay(b, 1, () => 0), 5_000);
  assert.equal(backoffDelay(b, 1, () => 0.999999), 15_000);
  const delays = Array.from({ length: 50 }, () => backoffDelay(b, 1));
  assert.ok(delays.every((d) => d >= 5_000 && d <= 15_000), delays.join(','));
  assert.ok(new Set(delays).size > 1, 'delays are spread');
  assert.deepEqual(decideFailure(job(1, 2, b), {}, NOW, () => 0.5), { state: 'scheduled', runAt: NOW + 10_000 });
});

test(`a stalled attempt runs again with ${STALL_GRACE} run of grace past attempts, then fails`, () => {
  assert.deepEqual(decideStall(job(1, 1)), { state: 'queued' });
  assert.deepEqual(decideStall(job(2, 1)), { state: 'failed' });
  assert.deepEqual(decideStall(job(3, 3)), { state: 'queued' });
  const o = stallOutcome({ id: 'j', attempt: 1, maxAttempts: 1, workerId: 'w9' }, 'tok', NOW);
  assert.deepEqual(o, { id: 'j', token: 'tok', kind: 'failed', error: { message: 'lease expired: worker w9 stopped heartbeating (stalled)', stack: null }, next: { state: 'queued' }, stalledAt: NOW });
});
