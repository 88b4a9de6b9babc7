/**
 * A real `conveyor serve` against what a browser page, a mistyped name or a garbled request
 * can do: cross-site requests, DNS rebinding, tokens in logs, names that are object keys,
 * loose JSON-RPC params, malformed bodies, oversized uploads, files that outlive their job.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli } from '../helpers/cli.ts';
import { spawnTs } from '../helpers/procs.ts';
import { CLI } from '../helpers/cli.ts';
import { serve, type ServeProc } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-sec-'));
const uploads = join(dir, 'uploads');
let s: ServeProc;
before(async () => {
  s = await serve(['--db', join(dir, 'sec.db'), '--uploads', uploads, '--max-upload-mb', '1', '--allow-host', 'queue.internal']);
});
after(async () => {
  s.child.kill('SIGTERM');
  await s.exited;
  rmSync(dir, { recursive: true, force: true });
});

/** A raw request, so Host and Origin can be anything. */
function raw(method: string, path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; body: string }> {
  const url = new URL(s.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const total = async () => (await (await fetch(`${s.url}/api/stats`)).json()).totals as Record<string, number>;
const rpcBody = (params: object) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'queue_add_job', params: { job_type: 'x', ...params } });

test('cross-site requests change nothing: foreign Origin, text/plain JSON-RPC, cross-site upload', async () => {
  const before = await total();
  const host = new URL(s.url).host;
  const foreign = await raw('POST', '/rpc', { host, origin: 'https://evil.example', 'content-type': 'text/plain' }, rpcBody({}));
  assert.equal(foreign.status, 403);
  assert.match(JSON.parse(foreign.body).error.message, /another origin/);
  const plain = await raw('POST', '/rpc', { host, origin: s.url, 'content-type': 'text/plain' }, rpcBody({}));
  assert.equal(plain.status, 415, 'a JSON body must say it is JSON');
  const fetchSite = await raw('POST', '/api/queues/q/jobs', { host, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, '{"name":"x"}');
  assert.equal(fetchSite.status, 403);
  const boundary = 'b0undary';
  const form = `--${boundary}\r\ncontent-disposition: form-data; name="images"; filename="a.jpg"\r\ncontent-type: image/jpeg\r\n\r\nabc\r\n--${boundary}--\r\n`;
  const upload = await raw('POST', '/queue/submit', { host, origin: 'http://evil.example', 'content-type': `multipart/form-data; boundary=${boundary}` }, form);
  assert.equal(upload.status, 403);
  assert.deepEqual(await total(), before, 'nothing was added');
  const same = await raw('POST', '/rpc', { host, origin: s.url, 'content-type': 'application/json' }, rpcBody({}));
  assert.equal(same.status, 200, 'the server\'s own origin (the dashboard) works');
});

test('DNS rebinding: a Host that is not this server\'s is refused; IPs, localhost and allowed names pass', async () => {
  const port = new URL(s.url).port;
  const evil = await raw('GET', '/api/queues', { host: `evil.example:${port}` });
  assert.equal(evil.status, 421);
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `queue.internal:${port}`]) assert.equal((await raw('GET', '/api/queues', { host })).status, 200, host);
});

test('names that are object keys are refused everywhere; totals stay right', async () => {
  for (const name of ['__proto__', 'constructor', 'prototype']) {
    const r = await fetch(`${s.url}/api/queues/${name}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"x"}' });
    assert.equal(r.status, 400, name);
    assert.match((await r.json()).error.message, /reserved/);
    const job = await fetch(`${s.url}/api/queues/ok/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
    assert.equal(job.status, 400, `job name ${name}`);
    const rpc = await (await fetch(`${s.url}/rpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: rpcBody({ queue: name }) })).json();
    assert.equal(rpc.error.code, -32602);
  }
  const queues = (await (await fetch(`${s.url}/api/queues`)).json()).queues.map((q: { name: string }) => q.name);
  assert.ok(!queues.some((n: string) => ['__proto__', 'constructor', 'prototype'].includes(n)));
});

test('JSON-RPC params are strict: unknown fields and non-object params are refused, naming the field', async () => {
  const call = async (body: unknown) => (await (await fetch(`${s.url}/rpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()).error;
  const unknown = await call({ jsonrpc: '2.0', id: 1, method: 'queue_add_job', params: { job_type: 'x', attempts: -1 } });
  assert.equal(unknown.code, -32602);
  assert.match(unknown.message, /unknown field "attempts" for queue_add_job/);
  assert.equal(unknown.data.field, 'attempts');
  assert.equal((await call({ jsonrpc: '2.0', id: 1, method: 'queue_add_job', params: 'x' })).code, -32602);
  assert.match((await call({ jsonrpc: '2.0', id: 1, method: 'queue_add_job', params: { job_type: 'x', options: { attempts: -1 } } })).message, /attempts/);
  assert.equal((await call({ jsonrpc: '2.0', id: 1, method: 'queue_health', params: { verbose: true } })).code, -32602);
});

test('garbled bodies get a 4xx in our words, never a 500 or a framework code', async () => {
  const host = new URL(s.url).host;
  const garbage = await raw('POST', '/queue/submit', { host, 'content-type': 'multipart/form-data; boundary=xyz' }, 'this is not multipart at all');
  assert.equal(garbage.status, 400, garbage.body);
  const badJson = await raw('POST', '/api/queues/q/jobs', { host, 'content-type': 'application/json' }, '{"name": ');
  assert.equal(badJson.status, 400);
  const badError = JSON.parse(badJson.body).error;
  assert.deepEqual([badError.code, badError.message], ['VALIDATION', 'the body is not valid JSON']);
  const proto = await raw('POST', '/api/queues/q/jobs', { host, 'content-type': 'application/json' }, '{"name":"x","data":{"__proto__":{"admin":true}}}');
  assert.equal(proto.status, 400);
  assert.match(JSON.parse(proto.body).error.message, /may not have the keys "__proto__"/);
  const boundary = 'many';
  const parts = Array.from({ length: 101 }, (_, i) => `--${boundary}\r\ncontent-disposition: form-data; name="images"; filename="${i}.txt"\r\n\r\nx\r\n`).join('') + `--${boundary}--\r\n`;
  const tooMany = await raw('POST', '/queue/submit', { host, 'content-type': `multipart/form-data; boundary=${boundary}` }, parts);
  assert.equal(tooMany.status, 413);
  assert.deepEqual(JSON.parse(tooMany.body).error, { code: 'TOO_LARGE', message: 'too many files in one upload' });
});

test('an upload larger than the per-request limit is refused and leaves no file; files go when their job goes', async () => {
  const big = new FormData();
  big.append('images', new Blob([new Uint8Array(600 * 1024)]), 'a.bin');
  big.append('images', new Blob([new Uint8Array(600 * 1024)]), 'b.bin');
  const before = existsSync(uploads) ? readdirSync(uploads).length : 0;
  const r = await fetch(`${s.url}/queue/submit`, { method: 'POST', body: big });
  assert.equal(r.status, 413);
  assert.match((await r.json()).error.message, /larger than 1048576 bytes in all files/);
  assert.equal(readdirSync(uploads).length, before, 'nothing left behind');
  const small = new FormData();
  small.append('images', new Blob(['tiny']), 'c.jpg');
  const { job_id } = await (await fetch(`${s.url}/queue/submit`, { method: 'POST', body: small })).json();
  assert.ok(existsSync(join(uploads, job_id)));
  assert.equal((await fetch(`${s.url}/api/jobs/${job_id}`, { method: 'DELETE' })).status, 204);
  // The server removes the folder when it hears of the removal: ask it a few times meanwhile.
  let gone = false;
  for (let i = 0; i < 200 && !gone; i++) {
    gone = !existsSync(join(uploads, job_id));
    if (!gone) await fetch(`${s.url}/health`);
  }
  assert.ok(gone, 'the job\'s files are gone with it');
});

test('tokens never reach the logs, and a token in the query string is not accepted', async () => {
  const p = spawnTs(CLI, ['serve', '--listen', '0', '--db', join(dir, 'logs.db'), '--token', 'sup3r-secret-t0ken']);
  try {
    const line = await p.waitFor(/^Conveyor listening on /);
    const url = line.replace('Conveyor listening on ', '').trim();
    assert.equal((await fetch(`${url}/api/events?token=sup3r-secret-t0ken`)).status, 401, 'the header only');
    await fetch(`${url}/api/queues?token=sup3r-secret-t0ken`, { headers: { authorization: 'Bearer sup3r-secret-t0ken' } });
    await fetch(`${url}/api/stats`, { headers: { authorization: 'Bearer sup3r-secret-t0ken' } });
    await p.waitFor(/\/api\/stats/);
    const logs = p.lines.join('\n');
    assert.match(logs, /\/api\/queues\?\[query redacted\]/);
    assert.doesNotMatch(logs, /sup3r-secret-t0ken/);
  } finally {
    p.child.kill('SIGTERM');
    await p.exited;
  }
});

test('the no-token-beyond-loopback rule goes by resolved addresses, not by how a name starts', async () => {
  const spoof = await cli(['serve', '--bind', '127.0.0.1.nip.io', '--listen', '0', '--db', join(dir, 'x.db')]);
  assert.equal(spoof.code, 1);
  assert.match(spoof.stderr, /refusing to listen on 127\.0\.0\.1\.nip\.io without a token/);
});
