/** Schedules over REST and JSON-RPC, in-process (app.inject), with their bad cases and /metrics. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { TestClock } from '../../src/core/clock.ts';
import { Maintainer } from '../../src/maintainer.ts';
import { buildServer } from '../../src/server/app.ts';
import type { Store } from '../../src/stores/store.ts';
import { BACKENDS } from '../helpers/stores.ts';

let store: Store;
let app: FastifyInstance;
const sqlite = BACKENDS.find((b) => b.name === 'sqlite')!;
// The server reads time from the store's clock: a test clock keeps run times exact.
const clock = new TestClock();
before(async () => {
  store = await sqlite.open(clock);
  app = await buildServer({ store });
});
after(async () => {
  await app.close();
  await store.close();
});

const rpc = async (method: string, params: object) => (await app.inject({ method: 'POST', url: '/rpc', payload: { jsonrpc: '2.0', id: 1, method, params } })).json();

test('PUT creates or replaces, GET lists with the next three runs, pause/resume, DELETE', async () => {
  const put = await app.inject({ method: 'PUT', url: '/api/queues/reports/schedules/daily', payload: { cron: '0 9 * * *', tz: 'Europe/Berlin', name: 'report', data: { kind: 'daily' } } });
  assert.equal(put.statusCode, 200);
  const s = put.json();
  assert.equal(s.upcoming.length, 3);
  assert.ok(s.upcoming.every((t: number) => new Date(t).getUTCHours() === 8 || new Date(t).getUTCHours() === 7), '09:00 in Berlin');
  const again = await app.inject({ method: 'PUT', url: '/api/queues/reports/schedules/daily', payload: { cron: '0 9 * * *', tz: 'Europe/Berlin', name: 'report', data: { kind: 'v2' } } });
  assert.deepEqual(again.json().data, { kind: 'v2' });
  const listed = (await app.inject('/api/queues/reports/schedules')).json().schedules;
  assert.deepEqual(listed.map((x: { id: string }) => x.id), ['daily']);
  assert.equal((await app.inject({ method: 'POST', url: '/api/queues/reports/schedules/daily/pause' })).json().paused, true);
  assert.equal((await app.inject('/api/queues/reports/schedules/daily')).json().upcoming.length, 0, 'a paused schedule has no upcoming runs');
  assert.equal((await app.inject({ method: 'POST', url: '/api/queues/reports/schedules/daily/resume' })).json().paused, false);
  assert.equal((await app.inject('/api/schedules')).json().schedules.length, 1);
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/queues/reports/schedules/daily' })).statusCode, 204);
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/queues/reports/schedules/daily' })).statusCode, 404);
  assert.equal((await app.inject('/api/queues/reports/schedules/daily')).statusCode, 404);
});

test('bad schedules get a 400 naming the field and change nothing', async () => {
  const bad: [object, RegExp][] = [
    [{ name: 't' }, /either cron or every/],
    [{ cron: '* * * * *', every: 5000, name: 't' }, /either cron or every/],
    [{ cron: '99 * * * *', name: 't' }, /cron/],
    [{ cron: '* * * * *', tz: 'Nowhere/City', name: 't' }, /time zone/],
    [{ every: 10, name: 't' }, /every/],
    [{ every: 5000, name: 't', startAt: 2000, endAt: 1000 }, /endAt/],
    [{ every: 5000, name: 't', opts: { delay: 5 } }, /opts.delay/],
    [{ every: 5000, name: 't', surprise: 1 }, /surprise|additional/i],
    [{ every: 5000 }, /name/],
  ];
  for (const [payload, why] of bad) {
    const r = await app.inject({ method: 'PUT', url: '/api/queues/reports/schedules/x', payload });
    assert.equal(r.statusCode, 400, JSON.stringify(payload));
    assert.match(r.json().error.message, why);
  }
  assert.equal((await app.inject({ method: 'PUT', url: '/api/queues/bad%20queue/schedules/x', payload: { every: 5000, name: 't' } })).statusCode, 400);
  assert.equal((await app.inject({ method: 'POST', url: '/api/queues/reports/schedules/missing/pause' })).statusCode, 404);
  assert.deepEqual((await app.inject('/api/schedules')).json().schedules, []);
});

test('JSON-RPC: queue_schedule, queue_list_schedules, queue_unschedule; runs reach /metrics', async () => {
  const made = await rpc('queue_schedule', { queue: 'beats', id: 'b', every: 60_000, name: 'beat', startAt: store.clock.now() });
  assert.equal(made.result.id, 'b');
  const bad = await rpc('queue_schedule', { queue: 'beats', id: 'c', every: 1, name: 'beat' });
  assert.equal(bad.error.code, -32602);
  assert.match(bad.error.message, /every/);
  assert.deepEqual((await rpc('queue_list_schedules', { queue: 'beats' })).result.schedules.map((s: { id: string }) => s.id), ['b']);
  const m = new Maintainer(store, { intervalMs: 1000 });
  const report = await m.runOnce();
  await m.stop();
  assert.equal(report!.scheduled, 1);
  const metrics = (await app.inject('/metrics')).body;
  assert.match(metrics, /conveyor_schedule_runs_total\{queue="beats",schedule="b"\} 1/);
  assert.equal((await rpc('queue_unschedule', { queue: 'beats', id: 'b' })).result.removed, true);
  assert.equal((await rpc('queue_unschedule', { queue: 'beats', id: 'b' })).error.code, -32004);
});
