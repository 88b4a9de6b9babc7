/** The HTTP API in-process (app.inject) on every backend: REST, JSON-RPC, the upload API, auth, errors. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/server/app.ts';
import type { Store } from '../../src/stores/store.ts';
import { BACKENDS } from '../helpers/stores.ts';

for (const backend of BACKENDS.filter((b) => b.name !== 'memory')) {
  describe(`HTTP API on ${backend.name}`, () => {
    let store: Store;
    let app: FastifyInstance;
    let authed: FastifyInstance;
    before(async () => {
      store = await backend.open();
      app = await buildServer({ store });
      authed = await buildServer({ store, token: 's3cret' });
    });
    after(async () => {
      await app.close();
      await authed.close();
      await store.close();
    });
    const q = `api-${backend.name}-${process.pid}`;

    test('add, get, list, cancel, retry, remove; errors say why with the right status', async () => {
      const added = await app.inject({ method: 'POST', url: `/api/queues/${q}/jobs`, payload: { name: 'email', data: { to: 'a' }, opts: { attempts: 2 } } });
      assert.equal(added.statusCode, 201);
      const { id } = added.json();
      const job = (await app.inject(`/api/jobs/${id}`)).json();
      assert.deepEqual(job.data, { to: 'a' });
      assert.equal(job.maxAttempts, 2);
      const bulk = await app.inject({ method: 'POST', url: `/api/queues/${q}/jobs`, payload: { jobs: [{ name: 'a' }, { name: 'b', opts: { delay: 60000 } }] } });
      assert.deepEqual(bulk.json().results.map((r: { state: string }) => r.state), ['queued', 'scheduled']);
      const list = (await app.inject(`/api/jobs?queue=${q}&state=waiting,delayed&limit=2`)).json();
      assert.equal(list.jobs.length, 2);
      assert.ok(list.next);
      assert.equal((await app.inject({ method: 'POST', url: `/api/jobs/${id}/cancel`, payload: { reason: 'no' } })).json().state, 'canceled');
      assert.equal((await app.inject({ method: 'POST', url: `/api/jobs/${id}/retry` })).json().state, 'queued');
      const conflict = await app.inject({ method: 'POST', url: `/api/jobs/${id}/retry` });
      assert.equal(conflict.statusCode, 409);
      assert.match(conflict.json().error.message, /it is queued/);
      assert.equal((await app.inject({ method: 'DELETE', url: `/api/jobs/${id}` })).statusCode, 204);
      assert.equal((await app.inject(`/api/jobs/${id}`)).statusCode, 404);
      const stats = (await app.inject('/api/stats')).json();
      assert.equal(stats.queues[q].queued, 1);
    });

    test('bad input gets a 4xx with a reason and changes nothing', async () => {
      const before = (await app.inject(`/api/queues/${q}`)).json().counts;
      const cases: [string, string, unknown, number, RegExp][] = [
        ['POST', `/api/queues/${q}/jobs`, { name: 'bad name!' }, 400, /job name must be/],
        ['POST', `/api/queues/${q}/jobs`, { name: 'x', opts: { priority: 'high' } }, 400, /priority must be an integer/],
        ['POST', `/api/queues/${q}/jobs`, { name: 'x', extra: 1 }, 400, /additional properties/],
        ['POST', `/api/queues/${q}/jobs`, { data: 1 }, 400, /name is required/],
        ['POST', '/api/queues/bad%20queue/jobs', { name: 'x' }, 400, /queue must be/],
        ['PATCH', `/api/queues/${q}`, { maxSize: -3 }, 400, /maxSize must be a positive integer/],
        ['GET', '/api/jobs?state=sleeping', undefined, 400, /unknown state/],
        ['GET', '/api/jobs?limit=0', undefined, 400, /limit/],
        ['GET', '/api/jobs?cursor=garbage', undefined, 400, /cursor/],
        ['POST', '/api/jobs/missing/cancel', {}, 404, /not found/],
        ['GET', '/api/nowhere', undefined, 404, /no route/],
      ];
      for (const [method, url, payload, status, re] of cases) {
        const r = await app.inject({ method: method as 'GET', url, ...(payload === undefined ? {} : { payload: payload as object }) });
        assert.equal(r.statusCode, status, `${method} ${url}: ${r.body}`);
        assert.match(r.json().error.message, re, `${method} ${url}`);
      }
      const raw = await app.inject({ method: 'POST', url: `/api/queues/${q}/jobs`, headers: { 'content-type': 'application/json' }, payload: '{"name": ' });
      assert.equal(raw.statusCode, 400);
      const big = await app.inject({ method: 'POST', url: `/api/queues/${q}/jobs`, payload: { name: 'x', data: 'y'.repeat(3 * 1024 * 1024) } });
      assert.equal(big.statusCode, 413);
      assert.deepEqual((await app.inject(`/api/queues/${q}`)).json().counts, before);
    });

    test('JSON-RPC: the job manager methods, batches, and every standard error code', async () => {
      const rpc = async (body: unknown) => (await app.inject({ method: 'POST', url: '/rpc', payload: body as object })).json();
      const jobId = `rpc-${backend.name}-${process.pid}`;
      const add = await rpc({ jsonrpc: '2.0', id: 1, method: 'queue_add_job', params: { queue: q, job_type: 'cmd', job_id: jobId, params: { x: 1 } } });
      assert.equal(add.result.status, 'pending');
      const [start, status] = await rpc([
        { jsonrpc: '2.0', id: 'a', method: 'queue_start_job', params: { job_id: jobId } },
        { jsonrpc: '2.0', id: 'b', method: 'queue_get_job_status', params: { job_id: jobId } },
      ]);
      assert.equal(start.id, 'a');
      assert.equal(status.result.status, 'pending');
      assert.equal(status.result.state, 'queued');
      const stop = await rpc({ jsonrpc: '2.0', id: 2, method: 'queue_stop_job', params: { job_id: jobId } });
      assert.equal(stop.result.status, 'stopped');
      const logs = await rpc({ jsonrpc: '2.0', id: 3, method: 'queue_get_job_logs', params: { job_id: jobId } });
      assert.deepEqual([logs.result.stdout_lines, logs.result.stderr_lines], [0, 0]);
      const again = await rpc({ jsonrpc: '2.0', id: 9, method: 'queue_start_job', params: { job_id: jobId } });
      assert.match(again.error.message, /^cannot start job .*: it is canceled \(start applies to pending, scheduled jobs\)/, 'says start, not promote');
      await store.reportWorker({ id: `w-${q}`, name: 'w', host: 'h', pid: 1, queues: [q], concurrency: 7, active: [], startedAt: 0, lastSeen: 0, processed: 0, failed: 0 }, 60_000);
      const health = await rpc({ jsonrpc: '2.0', id: 4, method: 'queue_health' });
      assert.equal(health.result.status, 'healthy');
      assert.equal(health.result.registry_path, store.location);
      assert.ok(health.result.max_concurrent_jobs >= 7, 'the concurrency of the workers reporting');
      await store.removeWorker(`w-${q}`);
      assert.equal((await rpc({ jsonrpc: '2.0', id: 5, method: 'queue_delete_job', params: { job_id: jobId } })).result.status, 'deleted');
      const parse = await app.inject({ method: 'POST', url: '/rpc', headers: { 'content-type': 'application/json' }, payload: '{nope' });
      assert.equal(parse.json().error.code, -32700);
      assert.equal((await rpc({ id: 1, method: 'queue_health' })).error.code, -32600);
      assert.equal((await rpc([])).error.code, -32600);
      assert.equal((await rpc({ jsonrpc: '2.0', id: 1, method: 'queue_fly' })).error.code, -32601);
      assert.equal((await rpc({ jsonrpc: '2.0', id: 1, method: 'queue_get_job_status', params: {} })).error.code, -32602);
      assert.equal((await rpc({ jsonrpc: '2.0', id: 1, method: 'queue_get_job_status', params: [1] })).error.code, -32602);
      const notFound = await rpc({ jsonrpc: '2.0', id: 1, method: 'queue_get_job_status', params: { job_id: 'nope' } });
      assert.match(notFound.error.message, /not found/);
    });

    test('remote workers: claim, progress, finish fenced by the lease token', async () => {
      const rq = `${q}-remote`;
      const { id } = (await app.inject({ method: 'POST', url: `/api/queues/${rq}/jobs`, payload: { name: 't', data: 1 } })).json();
      const claimed = (await app.inject({ method: 'POST', url: '/api/worker/claim', payload: { workerId: 'py', queues: [rq], limit: 5 } })).json();
      assert.equal(claimed.jobs.length, 1);
      const token = claimed.jobs[0].token;
      assert.deepEqual((await app.inject({ method: 'POST', url: '/api/worker/update', payload: { updates: [{ id, token, progress: 40, message: 'hm' }] } })).json().applied, [true]);
      assert.deepEqual((await app.inject({ method: 'POST', url: '/api/worker/extend', payload: { leases: [{ id, token }, { id, token: 'bad' }] } })).json().held, [true, false]);
      assert.deepEqual((await app.inject({ method: 'POST', url: '/api/worker/finish', payload: { outcomes: [{ id, token: 'bad', kind: 'completed' }] } })).json().applied, [false]);
      assert.deepEqual((await app.inject({ method: 'POST', url: '/api/worker/finish', payload: { outcomes: [{ id, token, kind: 'completed', result: 2 }] } })).json().applied, [true]);
      assert.equal((await app.inject(`/api/jobs/${id}`)).json().result, 2);
      const t0 = Date.now();
      const empty = (await app.inject({ method: 'POST', url: '/api/worker/claim', payload: { workerId: 'py', queues: [rq], waitMs: 100 } })).json();
      assert.deepEqual(empty.jobs, []);
      assert.ok(Date.now() - t0 >= 90, 'the claim long-polled');
    });

    test('auth: 401 without or with a wrong token; /health stays open', async () => {
      assert.equal((await authed.inject('/api/queues')).statusCode, 401);
      assert.equal((await authed.inject({ url: '/api/queues', headers: { authorization: 'Bearer nope' } })).statusCode, 401);
      assert.equal((await authed.inject({ url: '/api/queues', headers: { authorization: 'Bearer s3cret' } })).statusCode, 200);
      assert.equal((await authed.inject({ method: 'POST', url: '/rpc', payload: { jsonrpc: '2.0', id: 1, method: 'queue_health' } })).statusCode, 401);
      assert.equal((await authed.inject('/health')).statusCode, 200);
    });

    test('the OpenAPI document lists the routes with their schemas; /docs serves a page', async () => {
      const doc = (await authed.inject('/openapi.json')).json();
      assert.equal(doc.openapi.startsWith('3'), true);
      assert.ok(doc.paths['/api/queues/{queue}/jobs'].post.requestBody);
      assert.ok(doc.paths['/api/worker/claim']);
      assert.equal((await app.inject('/docs/')).statusCode, 200);
    });

    test('metrics expose counts per queue and state', async () => {
      const m = await app.inject('/metrics');
      assert.equal(m.statusCode, 200);
      assert.match(m.body, new RegExp(`conveyor_jobs\\{queue="${q}",state="queued"\\} \\d+`));
    });
  });
}
