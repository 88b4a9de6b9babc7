/**
 * The Store contract on Valkey, the Linux Foundation's fork of Redis: a server of the test's
 * own, started from the machine's valkey-server (.ci/run installs it from Debian backports).
 */
import { Redis } from 'ioredis';
import { after, before } from 'node:test';
import { RedisStore } from '../../src/stores/redis/redis-store.ts';
import { OwnRedis } from '../redis/own-redis.ts';
import { runContract } from './contract.ts';

let valkey: OwnRedis;
before(async () => {
  valkey = await OwnRedis.start(['--appendonly', 'no'], 'valkey-server');
  const r = new Redis(valkey.url);
  const info = await r.info('server');
  r.disconnect();
  if (!/^server_name:valkey/m.test(info)) throw new Error(`expected a Valkey server at ${valkey.url}, got:\n${info}`);
});
after(async () => {
  await valkey.stop();
});

runContract('valkey', async (clock) => {
  const store = await RedisStore.connect(valkey.url, { prefix: 'contract', clock });
  // Valkey runs Redis Functions too: the library must have loaded as one.
  if (store.luaMode !== 'function') throw new Error(`expected Redis Functions on Valkey, got ${store.luaMode}`);
  return store;
});
