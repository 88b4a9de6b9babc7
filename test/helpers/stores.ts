/**
 * The backends runtime tests (Queue, Worker, runners) run on. Each factory returns a fresh,
 * isolated store whose close() also removes what it wrote (temp file, key prefix); tests
 * about a store's own behaviour live in test/contract/.
 */
import { MemoryStore } from '../../src/stores/memory/memory-store.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisStore } from '../../src/stores/redis/redis-store.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import type { Store } from '../../src/stores/store.ts';
import type { Clock } from '../../src/core/clock.ts';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../redis/redis-env.ts';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.ts';
import { dropSchema, PG_URL, uniqueSchema } from '../postgres/pg-env.ts';

export interface Backend {
  name: string;
  /** A fresh store, on the given clock (default: the real one). */
  open(clock?: Clock): Promise<Store>;
}

/** Runs `cleanup` after the store closes. */
function onClose(store: Store, cleanup: () => Promise<unknown>): Store {
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await cleanup();
  };
  return store;
}

export const BACKENDS: Backend[] = [
  { name: 'memory', open: async (clock) => new MemoryStore(clock ? { clock } : {}) },
  {
    name: 'sqlite',
    open: async (clock) => {
      const dir = mkdtempSync(join(tmpdir(), 'conveyor-rt-'));
      return onClose(SqliteStore.open(join(dir, 'test.db'), clock ? { clock } : {}), async () => rmSync(dir, { recursive: true, force: true }));
    },
  },
  {
    name: 'redis',
    open: async (clock) => {
      const prefix = uniquePrefix('runtime');
      return onClose(await RedisStore.connect(REDIS_URL, { prefix, ...(clock ? { clock } : {}) }), () => dropPrefix(prefix));
    },
  },
  {
    name: 'postgres',
    open: async (clock) => {
      const schema = uniqueSchema('runtime');
      return onClose(await PostgresStore.connect(PG_URL, { schema, ...(clock ? { clock } : {}) }), () => dropSchema(schema));
    },
  },
];
