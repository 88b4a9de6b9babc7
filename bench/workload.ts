/**
 * One workload on one system, in a fresh process: node bench/workload.ts <system> <W1|W2|W3|W4|W5|W3G|W5G|W3C1|MEM> <n>
 * Prints one JSON line: {rate} (jobs/s), {p50, p95, p99} (ms) or {bytes} (per queued job), plus the CPU ms of this process
 * and of the database server during the measured part, and this process's peak RSS (MB).
 */
import { performance } from 'node:perf_hooks';
import type { Adapter } from './adapters/adapter.ts';
import { redisUsedMemory, serverCpuMs, serverOf } from './adapters/server-cpu.ts';

const [system, workload, nText] = process.argv.slice(2);
const n = Number(nText);
const payload = (i: number) => ({ i, s: 'x'.repeat(100) });

/** `<peer>` at its defaults, `<peer>-fast` with its documented throughput settings. */
async function adapterFor(system: string): Promise<Adapter> {
  if (system === 'conveyor-sqlite-power') return (await import('./adapters/conveyor.ts')).conveyor('sqlite', { durability: 'power' });
  if (system.startsWith('conveyor-')) return (await import('./adapters/conveyor.ts')).conveyor(system.slice(9) as 'memory' | 'sqlite' | 'redis' | 'postgres');
  const fast = system.endsWith('-fast');
  const name = fast ? system.slice(0, -5) : system;
  if (name === 'bullmq') return (await import('./adapters/bullmq.ts')).bullmq(fast);
  if (name === 'bullmq-postgres') return (await import('./adapters/bullmq-postgres.ts')).bullmqPostgres(fast);
  if (name === 'bee-queue') return (await import('./adapters/bee-queue.ts')).beeQueue(fast);
  if (name === 'pg-boss') return (await import('./adapters/pg-boss.ts')).pgBoss(fast);
  if (name === 'graphile-worker') return (await import('./adapters/graphile-worker.ts')).graphileWorker(fast);
  if (name === 'plainjob' && !fast) return (await import('./adapters/plainjob.ts')).plainjob();
  throw new Error(`unknown system ${system}`);
}

/** Adds `count` jobs in batches of 1,000; with `groups`, job i is in group i mod groups. */
async function fill(a: Adapter, count: number, groups = 0): Promise<void> {
  for (let i = 0; i < count; i += 1000) {
    const size = Math.min(1000, count - i);
    await a.addBulk(
      Array.from({ length: size }, (_, k) => payload(i + k)),
      groups > 0 ? Array.from({ length: size }, (_, k) => `g${(i + k) % groups}`) : undefined,
    );
  }
}
const groups = workload === 'W3G' ? 1_000 : workload === 'W5G' ? 10_000 : 0;

/** CPU of this process and of the server over the measured part only (not setup or fill). */
const server = serverOf(system);
let cpu0 = process.cpuUsage();
let server0 = 0;
const cpu = { clientMs: 0, serverMs: NaN };
async function measureStart(): Promise<number> {
  if (server) server0 = await serverCpuMs(server);
  cpu0 = process.cpuUsage();
  return performance.now();
}
async function measureStop(): Promise<void> {
  const c = process.cpuUsage(cpu0);
  cpu.clientMs = (c.user + c.system) / 1000;
  if (server) cpu.serverMs = (await serverCpuMs(server)) - server0;
}

const a = await adapterFor(system);
await a.setup();
let result: Record<string, number>;
if (workload === 'W1') {
  const t = await measureStart();
  await fill(a, n);
  result = { rate: n / ((performance.now() - t) / 1000) };
  await measureStop();
} else if (workload === 'W2') {
  const t = await measureStart();
  for (let i = 0; i < n; i++) await a.add(payload(i));
  result = { rate: n / ((performance.now() - t) / 1000) };
  await measureStop();
} else if (workload === 'W3' || workload === 'W3G' || workload === 'W3C1') {
  await fill(a, n, groups);
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const t = await measureStart();
  const w = await a.work(workload === 'W3C1' ? 1 : 50, () => {
    if (++done === n) finish();
  });
  await all;
  result = { rate: n / ((performance.now() - t) / 1000) };
  await measureStop();
  await w.close();
} else if (workload === 'W5' || workload === 'W5G') {
  // Depth: n jobs queued, time to process the first 10,000 (compare with W3 at 10,000).
  await fill(a, n, groups);
  const take = Math.min(n, 10_000);
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const t = await measureStart();
  const w = await a.work(50, () => {
    if (++done === take) finish();
  });
  await all;
  result = { rate: take / ((performance.now() - t) / 1000) };
  await measureStop();
  await w.close();
} else if (workload === 'MEM') {
  // Redis memory per queued job: what a backlog costs. Other clients of this Redis must be
  // idle (the figure is the growth of used_memory over the fill).
  const before = await redisUsedMemory();
  await fill(a, n);
  result = { bytes: ((await redisUsedMemory()) - before) / n };
} else if (workload === 'W4') {
  const lat: number[] = [];
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const w = await a.work(10, (data) => {
    lat.push(performance.timeOrigin + performance.now() - (data.t as number));
    if (lat.length === n) finish();
  });
  await new Promise((r) => setTimeout(r, 500));
  await measureStart();
  for (let i = 0; i < n; i++) {
    await a.add({ i, t: performance.timeOrigin + performance.now() });
    await new Promise((r) => setTimeout(r, 2));
  }
  await all;
  await measureStop();
  await w.close();
  lat.sort((x, y) => x - y);
  const p = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))];
  result = { p50: p(0.5), p95: p(0.95), p99: p(0.99) };
} else {
  throw new Error(`unknown workload ${workload}`);
}
const peakRssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
// PostgreSQL systems: what their tables and indexes take after the run.
const tableMb = a.schema ? await (await import('./adapters/pg-schema.ts')).schemaSizeMb(a.schema) : null;
console.log(JSON.stringify({ system, workload, n, settings: a.settings, ...result, cpuMs: cpu.clientMs, serverCpuMs: cpu.serverMs, peakRssMb, tableMb }));
await a.teardown();
process.exit(0);
