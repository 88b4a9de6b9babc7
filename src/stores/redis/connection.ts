/**
 * Opening the command connection: validate what the caller gave, connect or fail with a
 * ConnectionError that says where and why, and check the server once.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { parseRedisAddress, type RedisAddress } from './address.ts';
import { ConnectionError, ValidationError } from '../../core/errors.ts';
import { describe } from '../../core/options.ts';
import { systemClock, type Clock } from '../../core/clock.ts';

export interface RedisRetention {
  /** Finished jobs with no TTL of their own (job or queue) are removed this long after they finish; null: never. */
  maxAgeMs?: number | null;
  /** Most completed, failed and canceled jobs kept per queue, each; the oldest go first; null: no cap. */
  maxFinishedPerQueue?: number | null;
}

export interface RedisStoreOptions {
  /** Namespace of every key (default 'conveyor'); stores with different prefixes share nothing. */
  prefix?: string;
  /** ioredis options for both connections (TLS, password, timeouts...). */
  connection?: RedisOptions;
  /** Bounds on finished jobs (default: 7 days, 10,000 per queue and state). */
  retention?: RedisRetention;
  /** Approximate length of the event stream (default 10,000 entries). */
  eventsMaxLen?: number;
  /** Start-up warnings (e.g. an eviction policy that may drop jobs); default console.warn. */
  onWarning?: (message: string) => void;
  /**
   * How the Lua runs: 'auto' (default) loads it once as Redis Functions on Redis 7+ and
   * falls back to scripts; 'script' always uses EVALSHA (for proxies that do not route FCALL).
   */
  lua?: 'auto' | 'script';
  /** The store's time (default: the real clock); a TestClock in tests. */
  clock?: Clock;
  /**
   * Replicas that must have an add before enqueue resolves (Redis WAIT; default 0, or the
   * URL's `?replicas=`). Replication is asynchronous, so without it a primary that fails
   * right after an add can take the add with it when its replica is promoted.
   */
  replicas?: number;
  /** How long an add waits for those replicas before it fails (default 1000 ms). */
  replicaTimeoutMs?: number;
}

export const DEFAULT_RETENTION = { maxAgeMs: 7 * 24 * 3600 * 1000, maxFinishedPerQueue: 10_000 };
export const DEFAULT_EVENTS_MAX_LEN = 10_000;

const PREFIX_RE = /^[A-Za-z0-9_.:@/-]{1,100}$/;

export interface ResolvedOptions {
  address: RedisAddress;
  replicas: number;
  replicaTimeoutMs: number;
  prefix: string;
  location: string;
  maxAgeMs: number | null;
  maxFinishedPerQueue: number | null;
  eventsMaxLen: number;
  lua: 'auto' | 'script';
  warn: (message: string) => void;
  clock: Clock;
}

function positiveOrNull(v: unknown, field: string): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ValidationError(`${field} must be a positive integer or null; got ${describe(v)}`, field);
  return v;
}

export function resolveOptions(url: unknown, options: RedisStoreOptions): ResolvedOptions {
  const address = parseRedisAddress(url);
  let location = address.location;
  if (address.kind === 'single') {
    const u = new URL(address.url);
    u.password = '';
    location = u.toString();
  }
  if (options === null || typeof options !== 'object') throw new ValidationError('Redis store options must be an object', 'options');
  const prefix = options.prefix ?? 'conveyor';
  if (typeof prefix !== 'string' || !PREFIX_RE.test(prefix)) {
    throw new ValidationError(`prefix must be 1-100 characters of letters, digits and _ . : @ / -; got ${describe(prefix)}`, 'prefix');
  }
  const r = options.retention ?? {};
  const eventsMaxLen = options.eventsMaxLen ?? DEFAULT_EVENTS_MAX_LEN;
  if (!Number.isInteger(eventsMaxLen) || eventsMaxLen < 100) throw new ValidationError('eventsMaxLen must be an integer >= 100', 'eventsMaxLen');
  const lua = options.lua ?? 'auto';
  if (lua !== 'auto' && lua !== 'script') throw new ValidationError(`lua must be "auto" or "script"; got ${describe(lua)}`, 'lua');
  const replicas = options.replicas ?? address.replicas ?? 0;
  if (!Number.isInteger(replicas) || replicas < 0) throw new ValidationError(`replicas must be an integer >= 0; got ${describe(replicas)}`, 'replicas');
  const replicaTimeoutMs = options.replicaTimeoutMs ?? address.replicaTimeoutMs ?? 1_000;
  if (!Number.isInteger(replicaTimeoutMs) || replicaTimeoutMs < 1) throw new ValidationError(`replicaTimeoutMs must be a positive integer; got ${describe(replicaTimeoutMs)}`, 'replicaTimeoutMs');
  return {
    address,
    replicas,
    replicaTimeoutMs,
    prefix,
    location,
    maxAgeMs: r.maxAgeMs === undefined ? DEFAULT_RETENTION.maxAgeMs : positiveOrNull(r.maxAgeMs, 'retention.maxAgeMs'),
    maxFinishedPerQueue:
      r.maxFinishedPerQueue === undefined ? DEFAULT_RETENTION.maxFinishedPerQueue : positiveOrNull(r.maxFinishedPerQueue, 'retention.maxFinishedPerQueue'),
    eventsMaxLen,
    lua,
    warn: options.onWarning ?? ((m) => console.warn(`conveyor: ${m}`)),
    clock: options.clock ?? systemClock,
  };
}

/** A client of one server (or of the primary Sentinel names), or of a whole Cluster. */
export type RedisClient = Redis | Cluster;

function client(address: RedisAddress, connection: RedisOptions | undefined): RedisClient {
  const auth = { ...(address.username ? { username: address.username } : {}), ...(address.password ? { password: address.password } : {}) };
  const tls = address.tls ? { tls: {} } : {};
  const base: RedisOptions = { connectionName: 'conveyor', ...tls, ...auth, ...connection, lazyConnect: true };
  switch (address.kind) {
    case 'single':
      return new Redis(address.url, base);
    case 'sentinel':
      return new Redis({ ...base, sentinels: address.sentinels, name: address.name, db: address.db, ...(address.tls ? { enableTLSForSentinelMode: true } : {}) });
    case 'cluster':
      // Scripts and blocking reads go to the master of their keys' slot; reads too, so a
      // replica's lag never shows.
      return new Cluster(address.nodes, { redisOptions: base, lazyConnect: true, scaleReads: 'master', enableOfflineQueue: true });
  }
}

/** Connects the command connection, or throws a ConnectionError naming the location. */
export async function openConnection(address: RedisAddress, location: string, connection: RedisOptions | undefined): Promise<RedisClient> {
  const redis = client(address, connection);
  let firstError: unknown = null;
  const onError = (err: unknown) => {
    firstError ??= err;
  };
  redis.on('error', onError);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    const cause = firstError ?? err;
    throw new ConnectionError(`cannot connect to Redis at ${location}: ${(cause as Error).message ?? String(cause)}`, { cause });
  } finally {
    redis.off('error', onError);
  }
  return redis;
}

/** A second connection like `redis` for blocking reads, which wait out an outage. */
export function duplicateForBlocking(redis: RedisClient): RedisClient {
  if (redis instanceof Cluster) {
    const name = redis.options.redisOptions?.connectionName ?? 'conveyor';
    return redis.duplicate(undefined, {
      lazyConnect: false,
      redisOptions: { ...redis.options.redisOptions, connectionName: `${name}:blocking`, maxRetriesPerRequest: null },
    });
  }
  return redis.duplicate({
    connectionName: `${redis.options.connectionName ?? 'conveyor'}:blocking`,
    // Blocked reads wait out an outage and are re-sent on reconnect, never failed.
    maxRetriesPerRequest: null,
    lazyConnect: false,
  });
}

/** Checks the server version and warns about an eviction policy that may drop jobs. */
export async function checkServer(redis: RedisClient, location: string, warn: (m: string) => void): Promise<void> {
  let info: string;
  try {
    info = await redis.info();
  } catch (err) {
    // Some managed services restrict INFO; the scripts will fail loudly if Redis is too old.
    warn(`could not read INFO from ${location} (${(err as Error).message}); skipping the server checks`);
    return;
  }
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  const version = field('redis_version');
  if (version && Number(version.split('.')[0]) < 5) {
    throw new ConnectionError(`Redis at ${location} is version ${version}; Conveyor needs 5.0 or later (streams)`);
  }
  const policy = field('maxmemory_policy');
  if (policy && policy !== 'noeviction') {
    warn(
      `Redis at ${location} has maxmemory-policy ${policy}: when memory runs out Redis may evict job keys and lose jobs. ` +
        'Set maxmemory-policy noeviction for a queue.',
    );
  }
}
