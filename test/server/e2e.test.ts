/**
 * The real `conveyor serve` as a subprocess, driven over HTTP: SSE, uploads, the Python
 * remote worker, the CLI's server target, a bad-input sweep, auth at bind time, SIGTERM.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { cli, cliJson } from '../helpers/cli.ts';
import { spawnTs } from '../helpers/procs.ts';
import { serve, type ServeProc } from '../helpers/server.ts';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../redis/redis-env.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'conveyor-e2e-'));
const prefix = uniquePrefix('e2e');
const handlers = new URL('../fixtures/cli/jobs.ts', import.meta.url).pathname;
const pyWorker = new URL('../../examples/python-worker/worker.py', import.meta.url).pathname;
const servers: ServeProc[] = [];
after(async () => {
  for (const s of servers) s.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  await dropPrefix(prefix);
});

const TARGETS = [
  { name: 'sqlite', args: ['--db', join(dir, 'e2e.db')] },
  { name: 'redis', args: ['--redis', REDIS_URL, '--prefix', prefix] },
];

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.text()) as string };
}

const claimer = new URL('../fixtures/procs/remote-claimer.ts', import.meta.url).pathname;

for (const target of TARGETS) {
  test(`serve without handlers on ${target.name}: a remote worker killed mid-job gives its job back when the lease expires`, async () => {
    const queue = `remote-crash-${process.pid}`;
    const s = await serve([...target.args, '--maintain-every', '100']);
    servers.push(s);
    const { id } = JSON.parse((await post(`${s.url}/api/queues/${queue}/jobs`, { name: 'work', data: {} })).body);
    const remote = spawnTs(claimer, [s.url, queue, '300']);
    assert.equal(await remote.waitFor(/^claimed /), `claimed ${id}`);
    remote.child.kill('SIGKILL');
    await remote.exited;
    const job = await (await fetch(`${s.url}/api/jobs/${id}`)).json();
    assert.equal(job.state, 'active', 'the dead worker still holds the lease');
    // The server's Maintainer reclaims the expired lease; a long-poll claim then gets the job.
    const again = JSON.parse((await post(`${s.url}/api/worker/claim`, { workerId: 'rescuer', queues: [queue], leaseMs: 30_000, waitMs: 15_000 })).body);
    assert.deepEqual(again.jobs.map((j: { id: string }) => j.id), [id]);
    assert.equal(again.jobs[0].attempt, 2);
    assert.match(again.jobs[0].errors[0].message, /stalled/);
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
  });

  describe(`conveyor serve on ${target.name} (subprocess)`, () => {
    let s: ServeProc;
    test('starts and prints where to look', async () => {
      s = await serve([...target.args, '--handlers', handlers, '--queues', 'default,images', '--uploads', join(dir, `up-${target.name}`)]);
      servers.push(s);
      assert.match(s.lines.join('\n'), /dashboard/);
      const health = await (await fetch(`${s.url}/health`)).json();
      assert.equal(health.store.kind, target.name);
    });

    test('SSE streams a job\'s events; built-in workers run it', async () => {
      const ctl = new AbortController();
      const res = await fetch(`${s.url}/api/events?queue=default`, { signal: ctl.signal });
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      const reader = res.body!.getReader();
      let text = '';
      const { id } = JSON.parse((await post(`${s.url}/api/queues/default/jobs`, { name: 'resize', data: { item: 'x.png' } })).body);
      while (!text.includes(`"jobId":"${id}"`) || !text.includes('event: completed')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ctl.abort();
      assert.match(text, /event: added/);
      assert.match(text, /event: completed/);
      const done = await (await fetch(`${s.url}/api/jobs/${id}/wait?timeout=5000`)).json();
      assert.deepEqual(done.result, { resized: 'x.png' });
    });

    test('upload API: files stored under our names, traversal names harmless, limits enforced', async () => {
      const form = new FormData();
      form.append('images', new Blob(['one']), 'cat.jpg');
      form.append('images', new Blob(['two']), '../../../../etc/evil.sh');
      const r = await fetch(`${s.url}/queue/submit?queue=uploads&model=u2net`, { method: 'POST', body: form });
      assert.equal(r.status, 202);
      const body = await r.json();
      assert.equal(body.files_count, 2);
      const job = await (await fetch(`${s.url}/api/jobs/${body.job_id}`)).json();
      for (const f of job.data.files) assert.ok(f.path.startsWith(join(dir, `up-${target.name}`)), f.path);
      assert.deepEqual(job.data.files.map((f: { path: string }) => f.path.split('/').pop()), ['1.jpg', '2.sh']);
      assert.deepEqual(job.data.options, { model: 'u2net' }, 'query fields reach the handler');
      const status = await (await fetch(`${s.url}/queue/job/${body.job_id}`)).json();
      assert.equal(status.status, 'queued');
      assert.equal(status.state, undefined, 'one spelling per answer: status');
      assert.deepEqual(status.progress, { processed: 0, total: 2, percent: 0 });
      const page = await (await fetch(`${s.url}/queue/jobs?queue=uploads&limit=1`)).json();
      const all = await (await fetch(`${s.url}/api/queues/uploads`)).json();
      assert.equal(page.jobs.length, 1);
      assert.equal(page.total, Object.values(all.counts as Record<string, number>).reduce((n, c) => n + c, 0), 'total counts every job of the filter');
      const none = await fetch(`${s.url}/queue/submit`, { method: 'POST', body: new FormData() });
      assert.equal(none.status, 400);
      const cancel = await fetch(`${s.url}/queue/job/${body.job_id}/cancel`, { method: 'POST' });
      assert.equal((await cancel.json()).status, 'cancelled');
      const doc = await (await fetch(`${s.url}/openapi.json`)).json();
      assert.ok(doc.paths['/queue/submit'].post.responses['202'], 'the 202 answer is documented');
      assert.ok(doc.paths['/queue/jobs'].get.responses['200'].content['application/json'].schema.properties.total);
    });

    test('conveyor submit --server uploads the files: the same job as the HTTP route makes', async () => {
      const file = join(dir, `up-${target.name}.jpg`);
      writeFileSync(file, 'bytes');
      const r = await cliJson<{ id: string }>(['submit', file, '-q', 'uploads', '-n', 'remove-bg', '-o', 'model=u2net', '--server', s.url]);
      const job = await (await fetch(`${s.url}/api/jobs/${r.id}`)).json();
      assert.equal(job.name, 'remove-bg');
      assert.deepEqual(job.data.options, { model: 'u2net' });
      assert.equal(job.data.files.length, 1);
      assert.equal(job.data.files[0].name, `up-${target.name}.jpg`);
      assert.ok(job.data.files[0].path.startsWith(join(dir, `up-${target.name}`)), 'stored by the server');
    });

    test('the Python standard-library worker takes and finishes jobs', async () => {
      const q = `py-${target.name}`;
      const ok = JSON.parse((await post(`${s.url}/api/queues/${q}/jobs`, { name: 'py', data: { text: 'hello' } })).body);
      const bad = JSON.parse((await post(`${s.url}/api/queues/${q}/jobs`, { name: 'py', data: { text: 'fail' } })).body);
      const { stdout } = await run('python3', [pyWorker, '--server', s.url, '--queue', q, '--burst']);
      assert.match(stdout, /done: 2 job/);
      assert.deepEqual((await (await fetch(`${s.url}/api/jobs/${ok.id}`)).json()).result, { upper: 'HELLO' });
      const failed = await (await fetch(`${s.url}/api/jobs/${bad.id}`)).json();
      assert.equal(failed.state, 'failed');
      assert.equal(failed.errors[0].message, 'asked to fail');
    });

    test('the CLI drives the server: same commands, --json, exit codes', async () => {
      const t = ['--server', s.url];
      const [r] = await cliJson<{ id: string }[]>([...t, 'enqueue', 'a.jpg', '-q', 'images', '-n', 'resize']);
      const watch = await cli([...t, 'watch', r.id]);
      assert.equal(watch.code, 0, watch.stderr);
      assert.equal((await cliJson<{ state: string }>([...t, 'status', r.id])).state, 'completed');
      assert.equal((await cli([...t, 'retry', r.id])).code, 1);
      assert.ok((await cliJson<{ queues: Record<string, unknown> }>([...t, 'stats'])).queues.images);
      const wrong = await cli([...t, 'status', 'nope']);
      assert.equal(wrong.code, 1);
      // Groups over HTTP: the served queue runs its jobs, so none wait; an unknown queue is refused.
      assert.deepEqual(await cliJson([...t, 'groups', 'images']), { groups: [], sampled: false });
      const unknown = await cli([...t, 'groups', 'no-such-queue']);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /queue no-such-queue not found/);
    });

    test('bad-input sweep: thousands of malformed requests, every answer 4xx, nothing changes, server stays up', async () => {
      const before = await (await fetch(`${s.url}/api/stats`)).text();
      const paths = ['/api/queues/sweep/jobs', '/api/jobs', '/api/jobs/x/cancel', '/api/worker/claim', '/api/worker/finish', '/api/queues/sweep/clean', '/api/queues/sweep', '/queue/submit'];
      const junk = () => {
        const pick = Math.floor(Math.random() * 9);
        const r = () => Math.random().toString(36).slice(2);
        return [
          '{',
          '[1,2',
          JSON.stringify({ name: 7 }),
          JSON.stringify({ name: '', data: null }),
          JSON.stringify({ [r()]: r() }),
          JSON.stringify({ name: 'ok', opts: { priority: r() } }),
          JSON.stringify({ workerId: '', queues: 'x' }),
          JSON.stringify({ outcomes: [{ id: 1 }] }),
          '\u0000\u0001' + r(),
        ][pick];
      };
      let checked = 0;
      for (let round = 0; round < 50; round++) {
        await Promise.all(
          Array.from({ length: 40 }, async () => {
            const path = paths[Math.floor(Math.random() * paths.length)];
            const method = path === '/api/queues/sweep' ? 'PATCH' : path === '/api/jobs' ? 'GET' : 'POST';
            const url = method === 'GET' ? `${s.url}${path}?state=${encodeURIComponent(junk())}&limit=${Math.random() > 0.5 ? -1 : 'x'}` : `${s.url}${path}`;
            // Some come as garbled multipart, some from a foreign page (Origin), some plain text.
            const roll = Math.random();
            const type = roll > 0.9 ? 'text/plain' : roll > 0.8 ? 'multipart/form-data; boundary=zz' : 'application/json';
            const origin: Record<string, string> = Math.random() > 0.85 ? { origin: 'https://evil.example' } : {};
            const res = await fetch(url, { method, headers: { 'content-type': type, ...origin }, ...(method === 'GET' ? {} : { body: roll > 0.8 && roll <= 0.9 ? `--zz\r\n${junk()}` : junk() }) });
            await res.arrayBuffer();
            assert.ok(res.status >= 400 && res.status < 500, `${method} ${path} answered ${res.status}`);
            checked++;
          }),
        );
      }
      assert.equal(checked, 2000);
      // And requests whose Host is a foreign name (DNS rebinding): refused, like the rest.
      for (let i = 0; i < 20; i++) {
        const { status } = await new Promise<{ status: number }>((resolve, reject) => {
          const u = new URL(s.url);
          const req = httpRequest({ host: u.hostname, port: u.port, path: '/api/queues', headers: { host: `rebind-${i}.example:${u.port}` } }, (res) => {
            res.resume();
            resolve({ status: res.statusCode! });
          });
          req.on('error', reject);
          req.end();
        });
        assert.equal(status, 421);
      }
      assert.equal(await (await fetch(`${s.url}/api/stats`)).text(), before);
      assert.equal((await fetch(`${s.url}/health`)).status, 200);
    });

    test('SIGTERM: a running job finishes before the server exits 0', async () => {
      const { id } = JSON.parse((await post(`${s.url}/api/queues/default/jobs`, { name: 'slow', data: { ms: 600 } })).body);
      for (let i = 0; i < 200; i++) {
        const job = await (await fetch(`${s.url}/api/jobs/${id}`)).json();
        if (job.state === 'active') break;
        await new Promise((r) => setTimeout(r, 10));
      }
      s.child.kill('SIGTERM');
      assert.equal(await s.exited, 0);
      const after = await cliJson<{ state: string; result: unknown }>([...target.args, 'status', id]);
      assert.equal(after.state, 'completed');
      assert.equal(after.result, 'slept');
    });
  });
}

test('refuses to bind beyond loopback without a token (exit 1, says why)', async () => {
  const r = await cli(['serve', '--bind', '0.0.0.0', '--listen', '0', '--db', join(dir, 'bind.db')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without a token/);
});
