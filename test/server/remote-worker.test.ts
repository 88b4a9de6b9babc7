/**
 * `conveyor worker --server URL`: a Worker in another process runs jobs through a real
 * `conveyor serve` (claims, progress, logs, failures with retries decided by the worker),
 * also when the server is named by CONVEYOR_SERVER.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli } from '../helpers/cli.ts';
import { serve, type ServeProc } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-remote-'));
const handlers = new URL('../fixtures/cli/jobs.ts', import.meta.url).pathname;
let server: ServeProc;
before(async () => {
  server = await serve(['--db', join(dir, 'remote.db'), '--token', 'tok']);
});
after(async () => {
  server.child.kill('SIGTERM');
  await server.exited;
  rmSync(dir, { recursive: true, force: true });
});

async function api(path: string, body?: unknown) {
  const r = await fetch(`${server.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: 'Bearer tok', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return r.json();
}

test('a remote worker runs jobs, reports progress and logs, and retries a failure as the job says', async () => {
  const { results } = await api('/api/queues/remote/jobs', { jobs: [{ name: 'resize', data: { item: 'a.jpg' } }, { name: 'resize', data: { item: 'b.jpg' } }, { name: 'flaky', opts: { attempts: 2 } }] });
  const run = await cli(['worker', '--server', server.url, '--token', 'tok', '--handlers', handlers, '--queues', 'remote', '--burst']);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /worker .* on http /);
  const jobs = await Promise.all(results.map((r: { id: string }) => api(`/api/jobs/${r.id}`)));
  assert.deepEqual(jobs.map((j) => j.state), ['completed', 'completed', 'completed']);
  assert.deepEqual(jobs[0].result, { resized: 'a.jpg' });
  assert.equal(jobs[0].progress, 100);
  assert.deepEqual((await api(`/api/jobs/${jobs[0].id}/logs`)).lines.map((l: { line: string }) => l.line), ['resizing a.jpg']);
  assert.deepEqual([jobs[2].attempt, jobs[2].errors.map((e: { message: string }) => e.message), jobs[2].result], [2, ['first try fails'], 'fixed']);
});

test('CONVEYOR_SERVER makes `conveyor worker` a remote worker; a wrong token is refused', async () => {
  const { id } = await api('/api/queues/remote-env/jobs', { name: 'resize', data: { item: 'env.jpg' } });
  const run = await cli(['worker', '--handlers', handlers, '--queues', 'remote-env', '--burst'], { CONVEYOR_SERVER: server.url, CONVEYOR_TOKEN: 'tok' });
  assert.equal(run.code, 0, run.stderr);
  assert.equal((await api(`/api/jobs/${id}`)).state, 'completed');
  const denied = await cli(['worker', '--server', server.url, '--token', 'wrong', '--handlers', handlers, '--queues', 'remote-env', '--burst']);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /refused the token/);
});

test('a decided outcome from a worker is checked: scheduled needs runAt, unknown states are refused', async () => {
  const bad = [
    { id: 'x', token: 't', kind: 'failed', error: { message: 'e' }, next: { state: 'scheduled' } },
    { id: 'x', token: 't', kind: 'failed', error: { message: 'e' }, next: { state: 'queued', runAt: 5 } },
    { id: 'x', token: 't', kind: 'failed', error: { message: 'e' }, next: { state: 'completed' } },
  ];
  for (const o of bad) {
    const r = await fetch(`${server.url}/api/worker/finish`, { method: 'POST', headers: { authorization: 'Bearer tok', 'content-type': 'application/json' }, body: JSON.stringify({ outcomes: [o] }) });
    assert.equal(r.status, 400, JSON.stringify(o));
  }
});
