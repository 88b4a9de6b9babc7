/**
 * The job manager from a JSON file: JobManager.open({ config }) and `conveyor serve --config`.
 * Every setting is checked and a wrong one is refused with its key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { ValidationError } from '../../src/core/errors.ts';
import { JobManager } from '../../src/manager.ts';
import { parseManagerConfig } from '../../src/manager-config.ts';
import { serve } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const jobs = new URL('../fixtures/handlers/jobs.ts', import.meta.url).pathname;

function write(name: string, config: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return path;
}

const complete = {
  store: 'manager.db',
  queue: 'work',
  maxConcurrentJobs: 4,
  maxQueueSize: 100,
  overflow: 'reject',
  retentionMs: 3_600_000,
  shutdownTimeoutMs: 5_000,
  commands: {
    whoami: { module: relative(dir, jobs), export: 'whoami', runner: 'thread', useQueue: true, concurrency: 2, limit: 10, jobOptions: { attempts: 2, timeout: 30_000 } },
    print: { module: jobs, export: 'print', runner: 'process' },
  },
};

test('a complete config file: store and module paths relative to it, limits, job types and runners', async () => {
  const m = await JobManager.open({ config: write('conveyor.json', complete) });
  try {
    assert.equal(m.store.location, join(dir, 'manager.db'));
    const h = await m.health();
    assert.deepEqual([h.queue, h.limits.maxConcurrentJobs, h.limits.maxQueueSize, h.limits.overflow, h.limits.typeLimits.whoami], ['work', 4, 100, 'reject', 10]);
    assert.deepEqual(h.commands.map((c) => [c.name, c.runner]).sort(), [['print', 'process'], ['whoami', 'thread']]);
    const out = await m.run('whoami', { x: 1 });
    assert.equal(out.queued, true, 'useQueue from the file');
  } finally {
    await m.close();
  }
});

test('options given in code win over the file', async () => {
  const m = await JobManager.open({ config: write('override.json', complete), store: 'memory', maxConcurrentJobs: 2 });
  try {
    assert.equal(m.store.kind, 'memory');
    assert.equal((await m.health()).limits.maxConcurrentJobs, 2);
  } finally {
    await m.close();
  }
});

test('a wrong setting is refused with its key, before anything opens', async () => {
  const cases: [unknown, RegExp, string][] = [
    ['{not json', /not valid JSON/, 'config'],
    [[1, 2], /must hold a JSON object/, 'config'],
    [{ maxConcurrency: 3 }, /maxConcurrency is not a setting; settings: store, queue, maxConcurrentJobs/, 'maxConcurrency'],
    [{ maxConcurrentJobs: 0 }, /maxConcurrentJobs must be a positive integer/, 'maxConcurrentJobs'],
    [{ overflow: 'drop' }, /overflow must be/, 'overflow'],
    [{ store: 5 }, /store must be a store spec/, 'store'],
    [{ commands: { resize: { module: 'x.ts', runner: 'docker' } } }, /commands\.resize\.runner must be one of inline, thread, process/, 'commands.resize.runner'],
    [{ commands: { resize: { module: 'x.ts', retries: 3 } } }, /commands\.resize\.retries is not a command setting/, 'commands.resize.retries'],
    [{ commands: { resize: { runner: 'thread' } } }, /commands\.resize\.module must name the handler module/, 'commands.resize.module'],
    [{ commands: { resize: { module: jobs, jobOptions: { attempts: 0 } } } }, /attempts/, 'attempts'],
  ];
  for (const [config, message, field] of cases) {
    await assert.rejects(JobManager.open({ config: write('bad.json', config) }), (err: unknown) => err instanceof ValidationError && message.test(err.message) && err.field === field, JSON.stringify(config));
  }
  await assert.rejects(JobManager.open({ config: join(dir, 'missing.json') }), /no such file/);
});

test('conveyor serve --config runs the job manager behind the HTTP API', async () => {
  const path = write('serve.json', { ...complete, store: 'served.db' });
  const s = await serve(['--config', path]);
  try {
    assert.match(s.lines.join('\n'), /store +sqlite .*served\.db/);
    const rpc = async (method: string, params: object) =>
      (await (await fetch(`${s.url}/rpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })).json()).result;
    const added = await rpc('queue_add_job', { queue: 'work', job_type: 'whoami', params: { who: 'http' }, start: true });
    const done = await (await fetch(`${s.url}/api/jobs/${added.job_id}/wait?timeout=20000`)).json();
    assert.equal(done.state, 'completed');
    assert.equal((await rpc('queue_get_job_status', { job_id: added.job_id })).status, 'completed', 'the manager\'s worker ran it');
  } finally {
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
  }
  const both = await serve(['--config', path, '--handlers', jobs]).catch((err: Error) => err);
  assert.ok(both instanceof Error);
});

test('a store URL in the file is used as written; only a SQLite path is taken relative to the file', () => {
  for (const url of ['postgres://u@db:5432/jobs', 'redis://r:6379/1', 'redis+cluster://a:7000,b:7001', 'redis+sentinel://s:26379/main', 'memory', 'https://conveyor.internal']) {
    assert.equal(parseManagerConfig({ store: url }, dir).store, url);
  }
  assert.equal(parseManagerConfig({ store: 'sqlite:jobs.db' }, dir).store, join(dir, 'jobs.db'));
  assert.equal(parseManagerConfig({ store: 'jobs.db' }, dir).store, join(dir, 'jobs.db'));
});
