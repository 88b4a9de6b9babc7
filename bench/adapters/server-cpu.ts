/**
 * CPU time the database server spends, read before and after the measured part of a workload.
 * The servers are shared with whatever else runs on the machine, so a busy neighbour shows up
 * here too: figures are only meaningful on an otherwise idle machine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { REDIS_URL } from './adapter.ts';

export type ServerKind = 'redis' | 'postgres';

/** Which server a system of the table talks to, if any (the rest run in the client process). */
export function serverOf(system: string): ServerKind | undefined {
  if (/^(pg-boss|graphile-worker|bullmq-postgres|conveyor-postgres)/.test(system)) return 'postgres';
  if (/^(bullmq|bee-queue|conveyor-redis)/.test(system)) return 'redis';
  return undefined;
}

/** Bytes Redis has allocated for data (`INFO memory` used_memory). */
export async function redisUsedMemory(): Promise<number> {
  const r = new Redis(REDIS_URL);
  try {
    return Number(/^used_memory:(\d+)/m.exec(await r.info('memory'))?.[1] ?? NaN);
  } finally {
    r.disconnect();
  }
}

/** Redis's own count (`INFO cpu`), in ms: main thread and its I/O threads. */
async function redisCpuMs(): Promise<number> {
  const r = new Redis(REDIS_URL);
  try {
    const info = await r.info('cpu');
    const field = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
  } finally {
    r.disconnect();
  }
}

/**
 * PostgreSQL forks a process per connection: sum utime+stime of every live `postgres` process,
 * plus the postmaster's cutime+cstime, where the backends that have exited end up.
 */
function postgresCpuMs(): number {
  const TICK_MS = 10; // USER_HZ is 100 on Linux
  const procs: { pid: number; ppid: number; ticks: number; childTicks: number }[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const close = stat.lastIndexOf(')');
    if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
    // Fields after "(comm)": state is field 3, so field k sits at index k - 3.
    const f = stat.slice(close + 2).split(' ').map(Number);
    procs.push({ pid: Number(pid), ppid: f[1], ticks: f[11] + f[12], childTicks: f[13] + f[14] });
  }
  const pids = new Set(procs.map((p) => p.pid));
  let ticks = 0;
  for (const p of procs) ticks += p.ticks + (pids.has(p.ppid) ? 0 : p.childTicks);
  return ticks * TICK_MS;
}

export function serverCpuMs(kind: ServerKind): Promise<number> {
  return kind === 'redis' ? redisCpuMs() : Promise.resolve(postgresCpuMs());
}
