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

    test('GET /api/queues/:queue/latency: the figures of a known queue; 404 for an unknown one, 400 for a bad sample', async () => {
      const lq = `${q}-latency`;
      await app.inject({ method: 'POST', url: `/api/queues/${lq}/jobs`, payload: { name: 'a' } });
      const ok = await app.inject(`/api/queues/${lq}/latency?sample=10`);
      assert.equal(ok.statusCode, 200);
      const body = ok.json();
      assert.equal(body.queue, lq);
      assert.ok(body.oldestWaitingMs >= 0);
      assert.deepEqual([body.waitP50Ms, body.waitP95Ms, body.sampled], [null, null, 0]);
      const missing = await app.inject(`/api/queues/${lq}-nope/latency`);
      assert.equal(missing.statusCode, 404);
      assert.match(missing.json().error.message, /queue .*-nope not found/);
      for (const bad of ['sample=0', 'sample=1001', 'sample=x', 'other=1']) {
        const r = await app.inject(`/api/queues/${lq}/latency?${bad}`);
        assert.equal(r.statusCode, 400, bad);
      }
    });

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

    test('a POST with no body at all means no options: cancel, retry-all and clean; a body that is not an object is still a 400', async () => {
      const nq = `${q}-nobody`;
      const { id } = (await app.inject({ method: 'POST', url: `/api/queues/${nq}/jobs`, payload: { name: 'a' } })).json();
      const canceled = await app.inject({ method: 'POST', url: `/api/jobs/${id}/cancel` });
      assert.equal(canceled.statusCode, 200, canceled.body);
      assert.equal(canceled.json().state, 'canceled');
      assert.equal((await store.get(id))?.message, 'canceled over HTTP');
      const retried = await app.inject({ method: 'POST', url: `/api/queues/${nq}/retry-all`, payload: '' });
      assert.equal(retried.statusCode, 200, retried.body);
      // retry-all defaults to failed jobs: the canceled one stays.
      assert.deepEqual([retried.json().retried, (await store.get(id))?.state], [0, 'canceled']);
      const cleaned = await app.inject({ method: 'POST', url: `/api/queues/${nq}/clean` });
      assert.equal(cleaned.statusCode, 200, cleaned.body);
      const notObject = await app.inject({ method: 'POST', url: `/api/jobs/${id}/cancel`, headers: { 'content-type': 'application/json' }, payload: '"no"' });
      assert.equal(notObject.statusCode, 400);
      assert.match(notObject.json().error.message, /body must be object/);
    });

    test('a NUL in an id or a search is a not-found or an empty page, and a path that is not UTF-8 a 400 in our words; never a 500', async () => {
      assert.equal((await app.inject('/api/jobs/a%00b')).statusCode, 404);
      assert.equal((await app.inject({ method: 'POST', url: '/api/jobs/a%00b/cancel' })).statusCode, 404);
      const search = await app.inject(`/api/jobs?queue=${q}&text=%00`);
      assert.deepEqual([search.statusCode, search.json().jobs], [200, []]);
      const bad = await app.inject('/api/jobs/%ED%A0%80');
      assert.equal(bad.statusCode, 400);
      assert.deepEqual(bad.json().error.code, 'BAD_REQUEST');
    });

    test('every route of the OpenAPI document, given odd path params, queries and bodies, answers without a 5xx', async () => {
      const doc = (await app.inject('/docs/json')).json() as { paths: Record<string, Record<string, unknown>> };
      const odd = ['%00', 'a%00b', 'x'.repeat(3000), '%ED%A0%80', '..%2F..', `${q}-odd`, '-1', '1e309'];
      const bodies: unknown[] = [
        undefined, {}, [], 'x', { name: '\u0000' }, { name: 'a', data: '\u0000', opts: { group: 'g\u0000' } }, { ids: ['\u0000'], action: 'cancel' },
        { jobs: [{ name: 'a', opts: { jobId: '\ud800' } }] }, { paused: '\u0000' }, { cron: '\u0000', every: -1 },
      ];
      const failures: string[] = [];
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const method of Object.keys(ops)) {
          for (const v of odd) {
            for (const body of method === 'get' || method === 'delete' ? [undefined] : bodies) {
              const url = path.replace(/\{[^}]+\}/g, v) + (method === 'get' ? `?queue=${v}&text=${v}&state=${v}&limit=${v}` : '');
              const r = await app.inject({ method: method.toUpperCase() as 'GET', url, ...(body === undefined ? {} : { payload: body as object }) });
              if (r.statusCode >= 500) failures.push(`${r.statusCode} ${method} ${url.slice(0, 60)} ${JSON.stringify(body)}: ${r.body.slice(0, 100)}`);
            }
          }
        }
      }
      assert.ok(Object.keys(doc.paths).length > 20, 'the document lists the routes');
      assert.deepEqual(failures, []);
    });

    test('bulk actions: one call changes the jobs whose state allows it and names the others; bad bodies are 400s', async () => {
      const bq = `${q}-bulk`;
      const added = await app.inject({ method: 'POST', url: `/api/queues/${bq}/jobs`, payload: { jobs: [{ name: 'a' }, { name: 'b' }, { name: 'c', opts: { delay: 60000 } }] } });
      const [a, b, c] = (added.json().results as { id: string }[]).map((r) => r.id);
      const bulk = (payload: unknown) => app.inject({ method: 'POST', url: '/api/jobs/bulk', payload: payload as object });
      const canceled = await bulk({ action: 'cancel', ids: [a, b], reason: 'not needed' });
      assert.equal(canceled.statusCode, 200);
      assert.deepEqual(canceled.json(), { action: 'cancel', changed: [a, b], unchanged: [] });
      assert.equal((await store.get(a))?.message, 'not needed');
      // c is scheduled: retry does not apply to it, run now does.
      assert.deepEqual((await bulk({ action: 'retry', ids: [a, c] })).json(), { action: 'retry', changed: [a], unchanged: [c] });
      assert.deepEqual((await bulk({ action: 'promote', ids: [c] })).json().changed, [c]);
      assert.deepEqual((await bulk({ action: 'remove', ids: [b, 'no-such-job'] })).json(), { action: 'remove', changed: [b], unchanged: ['no-such-job'] });
      assert.equal(await store.get(b), null);
      const counts = (await app.inject(`/api/queues/${bq}`)).json().counts;
      for (const [body, field] of [
        [{ action: 'explode', ids: [a] }, /action/],
        [{ action: 'retry', ids: [] }, /ids/],
        [{ action: 'retry', ids: [a, a] }, /ids/],
        [{ action: 'retry', ids: [a], reason: 'x' }, /reason/],
        [{ action: 'retry', ids: ['bad id with spaces'] }, /ids\[0\]/],
        [{ ids: [a] }, /action/],
      ] as const) {
        const r = await bulk(body);
        assert.equal(r.statusCode, 400, JSON.stringify(body));
        assert.match(JSON.stringify(r.json().error), field);
      }
      assert.deepEqual((await app.inject(`/api/queues/${bq}`)).json().counts, counts, 'refused calls changed nothing');
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

    test('batches over REST: POST /api/queues/:queue/batches adds members and callback at once; GET /api/batches/:id; bad input 400, unknown 404', async () => {
      const bq2 = `${q}-batch`;
      const r = await app.inject({ method: 'POST', url: `/api/queues/${bq2}/batches`, payload: { jobs: [{ name: 'a' }, { name: 'b' }], onComplete: { name: 'done', data: { x: 1 } } } });
      assert.equal(r.statusCode, 201);
      const { id, jobs } = r.json() as { id: string; jobs: { id: string }[] };
      assert.equal(jobs.length, 2);
      const status = (await app.inject(`/api/batches/${id}`)).json();
      assert.deepEqual([status.total, status.pending.sort(), status.done, status.callbackState], [2, jobs.map((j) => j.id).sort(), false, 'deferred']);
      const before = (await app.inject(`/api/queues/${bq2}`)).json().counts;
      for (const bad of [
        { jobs: [], onComplete: { name: 'done' } },
        { jobs: [{ name: 'a' }] },
        { jobs: [{ name: 'a' }], onComplete: { name: 'done', data: 3 } },
        { jobs: [{ name: 'a' }], onComplete: { name: 'done', extra: 1 } },
        { jobs: [{ name: 'a' }], onComplete: { name: 'done', opts: { dependsOn: ['z'] } } },
      ]) {
        const res = await app.inject({ method: 'POST', url: `/api/queues/${bq2}/batches`, payload: bad });
        assert.equal(res.statusCode, 400, JSON.stringify(bad));
      }
      assert.deepEqual((await app.inject(`/api/queues/${bq2}`)).json().counts, before, 'refused batches added nothing');
      assert.equal((await app.inject(`/api/batches/${jobs[0].id}`)).statusCode, 404);
      assert.equal((await app.inject('/api/batches/no-such')).statusCode, 404);
      // The same over JSON-RPC.
      const rpc = async (method: string, params: unknown) => (await app.inject({ method: 'POST', url: '/rpc', payload: { jsonrpc: '2.0', id: 1, method, params } })).json();
      const viaRpc = (await rpc('queue_add_batch', { queue: bq2, jobs: [{ name: 'a' }], on_complete: { name: 'done' } })).result as { id: string };
      assert.equal((await rpc('queue_get_batch', { batch_id: viaRpc.id })).result.total, 1);
      assert.equal((await rpc('queue_get_batch', { batch_id: 'no-such' })).error.code, -32004);
      assert.equal((await rpc('queue_add_batch', { queue: bq2, jobs: 'x', on_complete: { name: 'done' } })).error.code, -32602);
    });

    test('GET /api/jobs/:id/relations: what a job waits on and what waits on it, with states; 404 for an unknown job', async () => {
      const rq = `${q}-rel`;
      const parent = (await app.inject({ method: 'POST', url: `/api/queues/${rq}/jobs`, payload: { name: 'p' } })).json();
      const child = (await app.inject({ method: 'POST', url: `/api/queues/${rq}/jobs`, payload: { name: 'c', opts: { dependsOn: parent.id } } })).json();
      const up = (await app.inject(`/api/jobs/${parent.id}/relations`)).json();
      assert.deepEqual(up, { dependsOn: [], dependents: [{ id: child.id, queue: rq, name: 'c', state: 'deferred' }] });
      const down = (await app.inject(`/api/jobs/${child.id}/relations`)).json();
      assert.deepEqual(down, { dependsOn: [{ id: parent.id, queue: rq, name: 'p', state: 'queued' }], dependents: [] });
      assert.equal((await app.inject('/api/jobs/no-such-job/relations')).statusCode, 404);
    });

    test('GET /api/stats/history: finished jobs per minute from the store, zeros included, per queue or all; bad spans are a 400', async () => {
      const hq = `${q}-hist`;
      await app.inject({ method: 'POST', url: `/api/queues/${hq}/jobs`, payload: { jobs: [{ name: 'a' }, { name: 'b' }] } });
      const jobs = await store.claim({ queues: [hq], workerId: 'w', limit: 2, leaseMs: 60_000 });
      await store.finish(jobs.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: null })));
      // A server that just started (a restart) reads the same series: it lives in the store.
      const fresh = await buildServer({ store });
      try {
        const r = await fresh.inject(`/api/stats/history?minutes=5&queue=${hq}`);
        assert.equal(r.statusCode, 200);
        const minutes = r.json().minutes as { at: number; completed: number; failed: number }[];
        assert.equal(minutes.length, 5);
        assert.ok(minutes.every((m, i) => i === 0 || m.at - minutes[i - 1].at === 60_000));
        assert.equal(minutes.reduce((n, m) => n + m.completed, 0), 2);
        for (const bad of ['minutes=0', 'minutes=1441', 'minutes=x', 'other=1']) assert.equal((await fresh.inject(`/api/stats/history?${bad}`)).statusCode, 400, bad);
      } finally {
        await fresh.close();
      }
    });

    test('GET /api/queues/:queue/groups: the groups with ready or active jobs; an unknown queue is a 404, a bad limit a 400', async () => {
      const gq = `${q}-groups`;
      for (const g of ['t1', 't1', 't2']) await app.inject({ method: 'POST', url: `/api/queues/${gq}/jobs`, payload: { name: 'x', opts: { group: g } } });
      const r = await app.inject(`/api/queues/${gq}/groups`);
      assert.equal(r.statusCode, 200);
      assert.deepEqual(r.json(), { queue: gq, groups: [{ group: 't1', queued: 2, active: 0 }, { group: 't2', queued: 1, active: 0 }], sampled: false });
      assert.equal((await app.inject(`/api/queues/${gq}/groups?limit=1`)).json().groups.length, 1);
      assert.equal((await app.inject(`/api/queues/${gq}/groups?limit=0`)).statusCode, 400);
      assert.equal((await app.inject(`/api/queues/${gq}/groups?other=1`)).statusCode, 400);
      assert.equal((await app.inject(`/api/queues/no-such-queue-here/groups`)).statusCode, 404);
      const rpc = async (params: unknown) => (await app.inject({ method: 'POST', url: '/rpc', payload: { jsonrpc: '2.0', id: 1, method: 'queue_groups', params } })).json();
      assert.deepEqual((await rpc({ queue: gq, limit: 1 })).result, { queue: gq, groups: [{ group: 't1', queued: 2, active: 0 }], sampled: false });
      assert.equal((await rpc({ queue: gq, limit: 0 })).error.code, -32602);
      assert.equal((await rpc({ queue: gq, limit: 'ten' })).error.code, -32602);
    });

    test('a dedupe key over REST: the second add answers 201 with the first job and duplicate: true; a bad spec is a 400 naming the field', async () => {
      const dq = `${q}-dd`;
      const post = (opts: unknown) => app.inject({ method: 'POST', url: `/api/queues/${dq}/jobs`, payload: { name: 'sync', data: {}, opts } });
      const first = (await post({ dedupe: { key: 'account-9' } })).json();
      const again = await post({ dedupe: { key: 'account-9' } });
      assert.equal(again.statusCode, 201);
      assert.deepEqual([again.json().id, again.json().duplicate, first.duplicate], [first.id, true, false]);
      const bad = await post({ dedupe: { key: 'account-9', mode: 'window' } });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().error.message, /dedupe mode "window" needs ttlMs/);
      assert.equal((await app.inject(`/api/queues/${dq}`)).json().counts.queued, 1, 'one job, whatever was sent');
      const d1 = (await post({ debounce: { key: 'doc-1', delayMs: 3_600_000 } })).json();
      const d2 = (await post({ debounce: { key: 'doc-1', delayMs: 3_600_000 } })).json();
      assert.deepEqual([d2.id, d2.debounced, d2.duplicate], [d1.id, true, true]);
      const refused = await post({ debounce: { key: 'doc-1', delayMs: 5 }, delay: 10 });
      assert.equal(refused.statusCode, 400);
      assert.match(refused.json().error.message, /debounce cannot be combined with delay/);
    });

    test('a per-group rate limit and weights over REST and JSON-RPC; malformed settings are a 400 / -32602 naming the field, and change nothing', async () => {
      const gq = `${q}-grl`;
      const ok = await app.inject({ method: 'PATCH', url: `/api/queues/${gq}`, payload: { groupRateLimit: { max: 5, durationMs: 1000 }, groupWeights: { gold: 3 } } });
      assert.equal(ok.statusCode, 200);
      assert.deepEqual([ok.json().config.groupRateLimit, ok.json().config.groupWeights], [{ max: 5, durationMs: 1000 }, { gold: 3 }]);
      for (const [bad, field] of [
        [{ groupRateLimit: { max: 0, durationMs: 1000 } }, /groupRateLimit\.max must be a positive integer/],
        [{ groupRateLimit: { max: 5 } }, /groupRateLimit needs both max and durationMs/],
        [{ groupRateLimit: { max: 5, durationMs: 1000, burst: 2 } }, /unknown field "burst"/],
        [{ groupRateLimit: [5, 1000] }, /groupRateLimit must be \{max, durationMs\} or null/],
        [{ rateLimit: 'fast' }, /rateLimit must be \{max, durationMs\} or null/],
        [{ groupWeights: { gold: 0 } }, /groupWeights\.gold must be an integer from 1 to 1000/],
        [{ groupWeights: { 'two words': 2 } }, /groupWeights key must be a string of 1-256 characters/],
        [{ groupWeights: [2] }, /groupWeights must be an object of group: weight/],
      ] as [unknown, RegExp][]) {
        const r = await app.inject({ method: 'PATCH', url: `/api/queues/${gq}`, payload: bad as object });
        assert.equal(r.statusCode, 400, JSON.stringify(bad));
        assert.match(r.json().error.message, field);
      }
      const rpc = await app.inject({ method: 'POST', url: '/rpc', payload: { jsonrpc: '2.0', id: 1, method: 'queue_configure', params: { queue: gq, settings: { groupRateLimit: { max: -1, durationMs: 5 } } } } });
      assert.equal(rpc.json().error.code, -32602);
      assert.deepEqual((await app.inject(`/api/queues/${gq}`)).json().config.groupRateLimit, { max: 5, durationMs: 1000 }, 'refused changes changed nothing');
    });

    test('a dead-letter queue over REST (PATCH) and JSON-RPC (queue_configure); bad settings are a 400 / -32602 that change nothing', async () => {
      const dq = `${q}-dl`;
      const patched = await app.inject({ method: 'PATCH', url: `/api/queues/${dq}`, payload: { deadLetter: `${dq}-dead` } });
      assert.equal(patched.statusCode, 200);
      assert.equal(patched.json().config.deadLetter, `${dq}-dead`);
      for (const bad of [{ deadLetter: dq }, { deadLetter: 7 }, { deadLetter: 'no spaces allowed' }]) {
        const r = await app.inject({ method: 'PATCH', url: `/api/queues/${dq}`, payload: bad });
        assert.equal(r.statusCode, 400, JSON.stringify(bad));
        assert.match(r.json().error.message, /deadLetter/);
      }
      const rpc = async (params: unknown) => (await app.inject({ method: 'POST', url: '/rpc', payload: { jsonrpc: '2.0', id: 1, method: 'queue_configure', params } })).json();
      assert.deepEqual((await rpc({ queue: dq, settings: { deadLetter: null } })).result.config.deadLetter, null);
      assert.equal((await rpc({ queue: dq, settings: { deadLetter: dq } })).error.code, -32602);
      assert.equal((await rpc({ queue: dq, settings: 'x' })).error.code, -32602);
      assert.equal((await rpc({ queue: dq, other: 1 })).error.code, -32602);
      assert.equal((await app.inject(`/api/queues/${dq}`)).json().config.deadLetter, null, 'refused changes changed nothing');
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
