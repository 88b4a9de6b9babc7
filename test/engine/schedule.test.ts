/**
 * When schedules run: cron in a time zone across daylight-saving changes, every-N ticks,
 * windows and limits, and what happens to ticks missed while nothing ran. Pure functions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../../src/core/errors.ts';
import { buildSchedule, type ScheduleSpec } from '../../src/core/schedule.ts';
import { mergeSchedule, nextTick, planTicks, upcoming } from '../../src/engine/schedule.ts';

const T0 = Date.UTC(2026, 0, 1);
const make = (spec: ScheduleSpec, now = T0) => mergeSchedule(null, buildSchedule('q', 's', spec, now), now);
const iso = (ms: number[]) => ms.map((t) => new Date(t).toISOString());

test('a daily 02:30 run on daylight-saving days: once a day, no duplicate, none missing', () => {
  // Spring forward: 02:30 does not exist that day, so it runs at the first moment after the gap (03:00).
  // Fall back: where 02:30 happens twice (Berlin), it runs once (the first).
  const cases = [
    ['Europe/Berlin', Date.UTC(2026, 2, 27), ['2026-03-27T01:30:00.000Z', '2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']],
    ['Europe/Berlin', Date.UTC(2026, 9, 23), ['2026-10-23T00:30:00.000Z', '2026-10-24T00:30:00.000Z', '2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']],
    ['America/New_York', Date.UTC(2026, 2, 6), ['2026-03-06T07:30:00.000Z', '2026-03-07T07:30:00.000Z', '2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z']],
    // New York repeats 01:00-02:00, not 02:30: that day's 02:30 is EST (07:30Z).
    ['America/New_York', Date.UTC(2026, 9, 30), ['2026-10-30T06:30:00.000Z', '2026-10-31T06:30:00.000Z', '2026-11-01T07:30:00.000Z', '2026-11-02T07:30:00.000Z']],
  ] as const;
  for (const [tz, from, expected] of cases) {
    const s = make({ cron: '30 2 * * *', tz, name: 'daily' }, from);
    assert.deepEqual(iso(upcoming(s, 4)), expected, `${tz} from ${new Date(from).toISOString()}`);
  }
});

test('every N ms ticks on multiples of N (the same in every process), or from startAt', () => {
  const s = make({ every: 30_000, name: 't' }, T0 + 12_345);
  assert.deepEqual(upcoming(s, 3), [T0 + 30_000, T0 + 60_000, T0 + 90_000]);
  const at = make({ every: 1000, name: 't', startAt: T0 + 500 }, T0);
  assert.deepEqual(upcoming(at, 3), [T0 + 500, T0 + 1500, T0 + 2500]);
  const six = make({ cron: '*/15 * * * * *', name: 't' }, T0 + 7_000);
  assert.deepEqual(upcoming(six, 2), [T0 + 15_000, T0 + 30_000], 'six fields: seconds first');
});

test('endAt and limit end a schedule', () => {
  assert.deepEqual(upcoming(make({ every: 1000, name: 't', endAt: T0 + 2500 }), 10), [T0, T0 + 1000, T0 + 2000]);
  assert.deepEqual(upcoming(make({ every: 1000, name: 't', limit: 2 }), 10), [T0, T0 + 1000]);
  assert.equal(nextTick(make({ every: 1000, name: 't', limit: 2 }), T0, 2), null);
});

test('ticks missed while nothing ran: none drops them, one runs the newest, all runs each', () => {
  const plan = (catchUp: 'none' | 'one' | 'all') => planTicks(make({ every: 1000, name: 't', catchUp }), T0 + 4500, 400);
  assert.deepEqual(plan('none'), { run: [], dropped: 5, nextRunAt: T0 + 5000 });
  assert.deepEqual(plan('one'), { run: [T0 + 4000], dropped: 4, nextRunAt: T0 + 5000 });
  assert.deepEqual(plan('all'), { run: [T0, T0 + 1000, T0 + 2000, T0 + 3000, T0 + 4000], dropped: 0, nextRunAt: T0 + 5000 });
  // A tick within the grace is on time: every mode runs it, and 'one' adds nothing for the missed ones.
  const onTime = (catchUp: 'none' | 'one') => planTicks(make({ every: 1000, name: 't', catchUp }), T0 + 4100, 400).run;
  assert.deepEqual(onTime('none'), [T0 + 4000]);
  assert.deepEqual(onTime('one'), [T0 + 4000]);
});

test('given again with the same timing, a schedule keeps its progress; a new timing or a resume starts from now', () => {
  const first = make({ every: 1000, name: 't' });
  const ran = { ...first, runs: 3, lastRunAt: T0 + 2000, nextRunAt: T0 + 3000 };
  const same = mergeSchedule(ran, buildSchedule('q', 's', { every: 1000, name: 't', data: { v: 2 } }, T0 + 9000), T0 + 9000);
  assert.deepEqual([same.nextRunAt, same.runs, same.data], [T0 + 3000, 3, { v: 2 }]);
  const changed = mergeSchedule(ran, buildSchedule('q', 's', { every: 5000, name: 't' }, T0 + 9000), T0 + 9000);
  assert.deepEqual([changed.nextRunAt, changed.runs], [T0 + 10_000, 3]);
  const resumed = mergeSchedule({ ...ran, paused: true }, { ...ran, paused: false }, T0 + 9000);
  assert.equal(resumed.nextRunAt, T0 + 9000, 'runs missed while paused are not made up');
});

test('bad specs are refused with a ValidationError naming the field', () => {
  const bad: [unknown, string][] = [
    [{ name: 't' }, 'cron'],
    [{ cron: '* * * * *', every: 1000, name: 't' }, 'every'],
    [{ cron: '61 * * * *', name: 't' }, 'cron'],
    [{ cron: '* * *', name: 't' }, 'cron'],
    [{ cron: '* * * * *', tz: 'Mars/Olympus', name: 't' }, 'tz'],
    [{ every: 999, name: 't' }, 'every'],
    [{ every: 1000, tz: 'UTC', name: 't' }, 'tz'],
    [{ every: 1000, name: '' }, 'name'],
    [{ every: 1000, name: 't', startAt: T0 + 10, endAt: T0 }, 'endAt'],
    [{ every: 1000, name: 't', limit: 0 }, 'limit'],
    [{ every: 1000, name: 't', overlap: 'queue' }, 'overlap'],
    [{ every: 1000, name: 't', catchUp: 'some' }, 'catchUp'],
    [{ every: 1000, name: 't', opts: { jobId: 'x' } }, 'opts.jobId'],
    [{ every: 1000, name: 't', opts: { attempts: 0 } }, 'attempts'],
    [{ every: 1000, name: 't', cronn: '* * * * *' }, 'cronn'],
  ];
  for (const [spec, field] of bad) {
    assert.throws(() => buildSchedule('q', 's', spec as ScheduleSpec, T0), (err: unknown) => err instanceof ValidationError && err.field === field, JSON.stringify(spec));
  }
  assert.throws(() => buildSchedule('q', 'has space', { every: 1000, name: 't' }, T0), ValidationError);
});
