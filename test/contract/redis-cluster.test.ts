/**
 * The Store contract on a real Redis Cluster of the test's own (three masters, a replica
 * each), through a redis+cluster:// URL of its nodes.
 */
import { after, before } from 'node:test';
import { RedisStore } from '../../src/stores/redis/redis-store.ts';
import { OwnCluster } from '../redis/own-cluster.ts';
import { runContract } from './contract.ts';

let cluster: OwnCluster;
before(async () => {
  cluster = await OwnCluster.start();
});
after(async () => {
  await cluster.stop();
});

runContract('redis cluster', async (clock) => {
  const store = await RedisStore.connect(cluster.url, { prefix: 'contract', clock });
  if (store.luaMode !== 'function') throw new Error(`expected Redis Functions on every master, got ${store.luaMode}`);
  return store;
});
