/**
 * Picks a backend from one string, so every surface (library, server, CLI) accepts the
 * same store spec. Backends are imported lazily: a SQLite user never loads ioredis.
 *
 *   memory                          in-process, nothing kept
 *   redis://host:port/db, rediss:// Redis (options.prefix: key prefix)
 *   redis+cluster://h:p,h:p         a Redis Cluster, by some of its nodes
 *   redis+sentinel://h:p,h:p/name   the Redis primary that Sentinel names
 *   postgres://user@host:port/db    PostgreSQL (options.schema: the tables' schema)
 *   http://host:port, https://      a Conveyor server, for Workers only (options.token)
 *   sqlite:path, or any other text  a SQLite file (created when missing)
 */
import { ConnectionError, ValidationError } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import type { Store } from './store.ts';

export interface OpenStoreOptions {
  /** Redis key prefix (default "conveyor"). Cluster, Sentinel and replicas=N come with the URL. */
  prefix?: string;
  /** SQLite: 'process' survives kill -9 of any process (default); 'power' survives power loss. */
  durability?: 'process' | 'power';
  /** The store's time (default: the real clock); a TestClock in tests. */
  clock?: Clock;
  /** Bearer token of a Conveyor server (http:// specs). */
  token?: string;
  /** PostgreSQL schema holding the tables (default "conveyor"). */
  schema?: string;
}

export const DEFAULT_DB_PATH = './conveyor.db';

export async function openStore(spec: string = DEFAULT_DB_PATH, options: OpenStoreOptions = {}): Promise<Store> {
  if (typeof spec !== 'string' || spec.trim() === '') throw new ValidationError('store must be "memory", a redis:// or postgres:// URL, or a SQLite file path', 'store');
  if (spec === 'memory' || spec === 'memory:') {
    const { MemoryStore } = await import('./memory/memory-store.ts');
    return new MemoryStore(options.clock ? { clock: options.clock } : {});
  }
  if (/^rediss?(\+(cluster|sentinel))?:\/\//i.test(spec)) {
    const { RedisStore } = await import('./redis/redis-store.ts');
    return RedisStore.connect(spec, { ...(options.prefix === undefined ? {} : { prefix: options.prefix }), ...(options.clock ? { clock: options.clock } : {}) });
  }
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    const { PostgresStore } = await import('./postgres/postgres-store.ts');
    return PostgresStore.connect(spec, { ...(options.schema === undefined ? {} : { schema: options.schema }), ...(options.clock ? { clock: options.clock } : {}) });
  }
  if (/^https?:\/\//i.test(spec)) {
    const { RemoteWorkerStore } = await import('./http/remote-worker-store.ts');
    const store = new RemoteWorkerStore(spec, options.token);
    await store.check();
    return store;
  }
  // A URL of a scheme no store speaks is a mistake, not a file name.
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec)?.[1];
  if (scheme !== undefined && scheme.toLowerCase() !== 'sqlite') {
    throw new ValidationError(`no store speaks ${scheme}://; use "memory", a SQLite file path, redis://, redis+cluster://, redis+sentinel://, postgres:// or http(s):// (a server)`, 'store');
  }
  const path = sqlitePathOf(spec)!;
  const { SqliteStore } = await import('./sqlite/sqlite-store.ts');
  return SqliteStore.open(path, { ...(options.durability === undefined ? {} : { durability: options.durability }), ...(options.clock ? { clock: options.clock } : {}) });
}

export interface WaitForStore {
  /** Give up after this long (default: never). */
  maxMs?: number;
  /** Told about each failed try and how long until the next. */
  onWait?: (err: Error, retryInMs: number) => void;
}

/**
 * openStore, waiting for a store that cannot be reached yet (a Redis or server still
 * starting, a network blip) with backoff from 100 ms to 5 s. Other errors (a bad spec, a
 * refused token) fail at once; so does the last try past `maxMs`.
 */
export async function openStoreWaiting(spec: string, options: OpenStoreOptions = {}, wait: WaitForStore = {}): Promise<Store> {
  const started = Date.now();
  let delay = 100;
  for (;;) {
    try {
      return await openStore(spec, options);
    } catch (err) {
      if (!(err instanceof ConnectionError) || (wait.maxMs !== undefined && Date.now() - started + delay > wait.maxMs)) throw err;
      wait.onWait?.(err, delay);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(5_000, delay * 2);
    }
  }
}

/** The SQLite file a spec names, or null when it names another backend. */
export function sqlitePathOf(spec: string): string | null {
  if (spec === 'memory' || spec === 'memory:' || /^(rediss?(\+(cluster|sentinel))?|https?|postgres(ql)?):\/\//i.test(spec)) return null;
  return spec.startsWith('sqlite:') ? spec.slice('sqlite:'.length).replace(/^\/\//, '') : spec;
}

/** The store spec from the usual flags and environment, most specific first. */
export function storeSpecFrom(
  flags: { redis?: string | undefined; db?: string | undefined; postgres?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): string {
  const given = [flags.redis && '--redis', flags.postgres && '--postgres', flags.db && '--db'].filter(Boolean);
  if (given.length > 1) throw new ValidationError(`give one of --db, --redis and --postgres, not ${given.join(' and ')}`, 'store');
  if (flags.postgres !== undefined && !/^postgres(ql)?:\/\//i.test(flags.postgres)) throw new ValidationError(`--postgres takes a postgres:// URL; got "${flags.postgres}"`, '--postgres');
  return flags.redis ?? flags.postgres ?? flags.db ?? env.CONVEYOR_REDIS_URL ?? env.CONVEYOR_POSTGRES_URL ?? env.CONVEYOR_DB ?? DEFAULT_DB_PATH;
}
