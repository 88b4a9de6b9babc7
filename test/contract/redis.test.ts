import { after } from 'node:test';
import { RedisStore } from '../../src/stores/redis/redis-store.ts';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../redis/redis-env.ts';
import { runContract } from './contract.ts';

const prefix = uniquePrefix('contract');

runContract('redis', async (clock) => {
  const store = await RedisStore.connect(REDIS_URL, { prefix, clock });
  // This machine's Redis is 7+: the library must have loaded as Redis Functions.
  if (store.luaMode !== 'function') throw new Error(`expected Redis Functions, got ${store.luaMode}`);
  return store;
});
// Redis before 7.0 (or a proxy without FCALL) runs the same Lua as scripts.
runContract('redis (scripts)', (clock) => RedisStore.connect(REDIS_URL, { prefix, lua: 'script', clock }));

after(async () => {
  await dropPrefix(prefix);
});
