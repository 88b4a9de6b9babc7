import { after } from 'node:test';
import { RedisStore } from '../../src/stores/redis/redis-store.ts';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../redis/redis-env.ts';
import { runContract } from './contract.ts';

const prefix = uniquePrefix('contract');

runContract('redis', () => RedisStore.connect(REDIS_URL, { prefix }));

after(async () => {
  await dropPrefix(prefix);
});
