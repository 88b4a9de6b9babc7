/**
 * The Store contract through Sentinel: a primary, a replica and a sentinel of the test's
 * own, reached by a redis+sentinel:// URL that names the sentinel and the primary's name.
 */
import { after, before } from 'node:test';
import { RedisStore } from '../../src/stores/redis/redis-store.ts';
import { OwnSentinel } from '../redis/own-sentinel.ts';
import { runContract } from './contract.ts';

let sentinel: OwnSentinel;
before(async () => {
  sentinel = await OwnSentinel.start();
});
after(async () => {
  await sentinel.stop();
});

runContract('redis sentinel', (clock) => RedisStore.connect(`${sentinel.url}?replicas=1`, { prefix: 'contract', clock }));
