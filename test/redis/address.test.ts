/** Reading where the Redis store connects from one URL: one server, a Cluster, Sentinel. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../../src/core/errors.ts';
import { parseRedisAddress } from '../../src/stores/redis/address.ts';

test('a Cluster URL lists some of its nodes; the location keeps the user and drops the password', () => {
  const a = parseRedisAddress('redis+cluster://app:s3cret@10.0.0.1:7000,10.0.0.2,[::1]:7002');
  assert.equal(a.kind, 'cluster');
  assert.deepEqual(a.kind === 'cluster' && a.nodes, [
    { host: '10.0.0.1', port: 7000 },
    { host: '10.0.0.2', port: 6379 },
    { host: '::1', port: 7002 },
  ]);
  assert.deepEqual([a.username, a.password, a.tls], ['app', 's3cret', false]);
  assert.equal(a.location, 'redis+cluster://app@10.0.0.1:7000,10.0.0.2,[::1]:7002');
  assert.equal(parseRedisAddress('rediss+cluster://h:7000').tls, true);
});

test('a Sentinel URL names the sentinels, the monitored primary and a database', () => {
  const a = parseRedisAddress('redis+sentinel://:pw@s1:26380,s2/main/3?replicas=1&replicaTimeoutMs=250');
  assert.ok(a.kind === 'sentinel');
  assert.deepEqual(a.sentinels, [
    { host: 's1', port: 26380 },
    { host: 's2', port: 26379 },
  ]);
  assert.deepEqual([a.name, a.db, a.password, a.replicas, a.replicaTimeoutMs], ['main', 3, 'pw', 1, 250]);
  assert.ok(!a.location.includes('pw'));
});

test('a plain URL passes through for ioredis, without the options that are ours', () => {
  const a = parseRedisAddress('redis://:pw@127.0.0.1:6379/2?replicas=2&family=6');
  assert.ok(a.kind === 'single');
  assert.equal(a.url, 'redis://:pw@127.0.0.1:6379/2?family=6');
  assert.equal(a.replicas, 2);
});

test('bad URLs are refused with the reason and without the password', () => {
  const bad: [string, RegExp][] = [
    ['http://h:6379', /must start with redis:\/\//],
    ['redis://a:6379,b:6379', /several hosts: use redis\+cluster/],
    ['redis+cluster://h:7000/1', /only database 0/],
    ['redis+cluster://h:99999', /"h:99999" .* is not a host:port/],
    ['redis+sentinel://:hunter2@s1:26379', /must name the monitored primary/],
    ['redis+sentinel://s1/main/x', /database "x"/],
    ['redis+cluster://h:7000?replicas=two', /replicas .* must be an integer >= 0; got "two"/],
    ['redis+cluster://h:7000?family=6', /takes no options but replicas/],
    ['redis+cluster://', /names no host/],
  ];
  for (const [url, re] of bad) {
    assert.throws(
      () => parseRedisAddress(url),
      (err: Error) => err instanceof ValidationError && re.test(err.message) && !err.message.includes('hunter2'),
      url,
    );
  }
});
