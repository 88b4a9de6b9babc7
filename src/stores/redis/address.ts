/**
 * Where the Redis store connects, read from one URL so that the CLI flag, the environment
 * variable and openStore() all say it the same way:
 *
 *   redis://[user:password@]host:port[/db]                    one server (rediss:// for TLS)
 *   redis+cluster://[user:password@]host:port,host:port,...   a Redis Cluster, by some of its nodes
 *   redis+sentinel://[user:password@]host:port,.../master[/db] a primary found through Sentinel
 *
 * The password is the data nodes' (sentinels that need their own take `sentinelPassword` in
 * the connection options). The scheme, not an extra flag, names the topology: one string
 * then moves between the CLI, CONVEYOR_REDIS_URL and code without losing it.
 */
import { ValidationError } from '../../core/errors.ts';
import { describe } from '../../core/options.ts';

export interface HostPort {
  host: string;
  port: number;
}

interface Credentials {
  username?: string;
  password?: string;
  tls: boolean;
}

export type RedisAddress = (
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: HostPort[] }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string; db: number }
) &
  Credentials & {
    /** The URL without its password. */
    location: string;
    /** `?replicas=N`: an add is acknowledged only once N replicas have it (see RedisStoreOptions). */
    replicas?: number;
    /** `?replicaTimeoutMs=T`: how long an add waits for them. */
    replicaTimeoutMs?: number;
  };

const SCHEME_RE = /^(rediss?)(\+(cluster|sentinel))?:\/\//i;

export const REDIS_URL_RE = /^rediss?(\+(cluster|sentinel))?:\/\//i;

function bad(message: string): ValidationError {
  return new ValidationError(message, 'url');
}

function hostPorts(list: string, defaultPort: number, url: string): HostPort[] {
  return list.split(',').map((hp) => {
    const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(hp.trim());
    const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
    if (!m || port < 1 || port > 65535) throw bad(`"${hp}" in ${url} is not a host:port`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
}

/** The URL with its password masked, for messages. */
function redactRedisUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

/** Takes Conveyor's own query parameters off a URL; the rest stay for ioredis. */
function ownParams(url: string, shown: string): { url: string; replicas?: number; replicaTimeoutMs?: number } {
  const q = url.indexOf('?');
  if (q === -1) return { url };
  const params = new URLSearchParams(url.slice(q + 1));
  const out: { url: string; replicas?: number; replicaTimeoutMs?: number } = { url };
  for (const [key, min] of [['replicas', 0], ['replicaTimeoutMs', 1]] as const) {
    const v = params.get(key);
    if (v === null) continue;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min) throw bad(`${key} in ${shown} must be an integer >= ${min}; got "${v}"`);
    out[key] = n;
    params.delete(key);
  }
  const rest = params.toString();
  out.url = url.slice(0, q) + (rest ? `?${rest}` : '');
  return out;
}

export function parseRedisAddress(given: unknown): RedisAddress {
  const scheme = typeof given === 'string' ? SCHEME_RE.exec(given) : null;
  if (typeof given !== 'string' || !scheme) {
    throw bad(`Redis URL must start with redis://, rediss://, redis+cluster:// or redis+sentinel://; got ${describe(typeof given === 'string' ? redactRedisUrl(given) : given)}`);
  }
  const shown = redactRedisUrl(given);
  const { url, ...own } = ownParams(given, shown);
  const query = url.indexOf('?');
  if (query !== -1 && scheme[3]) throw bad(`${shown}: a ${scheme[3]} URL takes no options but replicas and replicaTimeoutMs; give the others in the connection options`);
  const tls = scheme[1].toLowerCase() === 'rediss';
  const topology = scheme[3]?.toLowerCase();
  const rest = url.slice(scheme[0].length);
  const at = rest.lastIndexOf('@', rest.indexOf('/') === -1 ? rest.length : rest.indexOf('/'));
  const auth = at === -1 ? '' : rest.slice(0, at);
  const afterAuth = at === -1 ? rest : rest.slice(at + 1);
  const slash = afterAuth.indexOf('/');
  const hosts = slash === -1 ? afterAuth : afterAuth.slice(0, slash);
  const path = (slash === -1 ? '' : afterAuth.slice(slash + 1)).replace(/\/$/, '');
  let creds: Credentials;
  try {
    const colon = auth.indexOf(':');
    const username = decodeURIComponent(colon === -1 ? auth : auth.slice(0, colon));
    const password = colon === -1 ? undefined : decodeURIComponent(auth.slice(colon + 1));
    creds = { tls, ...(username ? { username } : {}), ...(password ? { password } : {}) };
  } catch {
    throw bad(`the user or password in ${shown} is not valid URL encoding`);
  }
  if (hosts === '') throw bad(`${shown} names no host`);
  const userPart = creds.username ? `${encodeURIComponent(creds.username)}@` : '';
  const location = `${scheme[0].toLowerCase()}${userPart}${hosts}${path ? `/${path}` : ''}`;
  if (!topology) {
    if (hosts.includes(',')) throw bad(`${shown} lists several hosts: use redis+cluster:// or redis+sentinel:// for those`);
    try {
      new URL(url);
    } catch {
      throw bad(`Redis URL is not a valid URL: ${describe(shown)}`);
    }
    return { kind: 'single', url, location, ...creds, ...own };
  }
  if (topology === 'cluster') {
    if (path !== '' && path !== '0') throw bad(`a Redis Cluster has only database 0; ${shown} asks for "${path}"`);
    return { kind: 'cluster', nodes: hostPorts(hosts, 6379, shown), location, ...creds, ...own };
  }
  const [name, dbText, ...more] = path.split('/');
  if (!name || more.length > 0) throw bad(`${shown} must name the monitored primary: redis+sentinel://host:26379/<name>[/<db>]`);
  const db = dbText === undefined ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw bad(`database "${dbText}" in ${shown} is not a number`);
  return { kind: 'sentinel', sentinels: hostPorts(hosts, 26379, shown), name: decodeURIComponent(name), db, location, ...creds, ...own };
}
