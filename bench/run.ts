/**
 * Runs every workload on every system, each in a fresh process, and writes a markdown table
 * with medians, min–max and ratios to BullMQ to bench/results/<date>.md.
 *
 *   node bench/run.ts [--only a,b] [--workloads W1,W3] [--reps 5] [--scale 1] [--base bullmq]
 *
 * Repetitions are interleaved (rep 1 of every system, then rep 2, …), so a drift of the
 * machine during the run spreads over all systems instead of landing on one.
 * Full scale is the issue's: W1/W3 100,000 jobs, W2 10,000, W4 2,000. W3G and W5G are W3 and W5
 * with every job in a group (1,000 and 10,000 groups): the cost of fair shares.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { serverOf } from './adapters/server-cpu.ts';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    workloads: { type: 'string' },
    reps: { type: 'string', default: '5' },
    scale: { type: 'string', default: '1' },
    base: { type: 'string', default: 'bullmq' },
  },
});
const SYSTEMS = [
  'bullmq', 'bullmq-fast', 'bee-queue', 'bee-queue-fast', 'pg-boss', 'pg-boss-fast', 'graphile-worker', 'graphile-worker-fast', 'bullmq-postgres',
  'bullmq-postgres-fast', 'plainjob', 'conveyor-memory', 'conveyor-sqlite', 'conveyor-sqlite-power', 'conveyor-redis', 'conveyor-postgres',
];
const WORKLOADS: Record<string, { n: number; unit: string }> = {
  W1: { n: 100_000, unit: 'jobs/s (bulk enqueue, batches of 1,000)' },
  W2: { n: 10_000, unit: 'jobs/s (single enqueue, each awaited)' },
  W3: { n: 100_000, unit: 'jobs/s (process queued jobs, concurrency 50, no-op)' },
  W4: { n: 2_000, unit: 'ms p50 / p95 / p99 (add → handler start, idle worker)' },
  W5: { n: 1_000_000, unit: 'jobs/s processing the first 10,000 of a deep queue (compare with W3)' },
  W3G: { n: 100_000, unit: 'jobs/s (W3 with the jobs spread over 1,000 groups, taking turns; compare with W3)' },
  W5G: { n: 1_000_000, unit: 'jobs/s (W5 with the jobs spread over 10,000 groups; compare with W5)' },
  W3C1: { n: 10_000, unit: 'jobs/s (W3 with concurrency 1: one job at a time, the default of BullMQ and bee-queue)' },
  MEM: { n: 100_000, unit: 'Redis bytes per queued job (growth of INFO used_memory over the fill; lower is better)' },
};
const TIMEOUT_MS = 600_000;
/** Runs that cannot finish within TIMEOUT_MS here, and why (reported, not silently dropped). */
function skipReason(system: string, workload: string, n: number): string | undefined {
  if (workload.endsWith('G') && !system.startsWith('conveyor-')) return 'fair shares across groups are not in its open-source version';
  if (workload === 'MEM' && serverOf(system) !== 'redis') return 'not on Redis';
  if (system === 'pg-boss' && (workload === 'W3' || workload === 'W5')) {
    return 'at its defaults the worker fetches one batch of 50 per 2 s poll, so 10,000 jobs take over 6 minutes (see pg-boss-fast)';
  }
  if (system === 'graphile-worker' && workload === 'W5' && n > 300_000) {
    return `the fill alone, one addJob per job at ~1,000/s, takes ~${Math.round(n / 60_000)} minutes (graphile-worker-fast fills with add_jobs)`;
  }
  return undefined;
}
const systems = values.only ? values.only.split(',') : SYSTEMS;
// W5 fills a million jobs per system and run: only when asked for.
const workloads = values.workloads ? values.workloads.split(',') : ['W1', 'W2', 'W3', 'W4'];
const reps = Number(values.reps);
const scale = Number(values.scale);
const script = new URL('./workload.ts', import.meta.url).pathname;

type Row = { rate?: number; bytes?: number; p50?: number; p95?: number; p99?: number; cpuMs: number; serverCpuMs: number | null; peakRssMb: number; tableMb: number | null; settings: string };
const sizeOf = (w: string) => Math.max(w === 'W4' ? 100 : 1000, Math.round(WORKLOADS[w].n * scale));
const results = new Map<string, Row[] | string>();
for (const w of workloads) {
  const n = sizeOf(w);
  for (const s of systems) {
    const skip = skipReason(s, w, n);
    results.set(`${w}:${s}`, skip ?? []);
  }
  for (let r = 0; r < reps; r++) {
    for (const s of systems) {
      const rows = results.get(`${w}:${s}`);
      if (!Array.isArray(rows)) continue; // skipped, or an earlier repetition failed
      try {
        const out = execFileSync(process.execPath, [script, s, w, String(n)], { encoding: 'utf8', timeout: TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
        rows.push(JSON.parse(out.trim().split('\n').pop()!));
      } catch (err) {
        const msg = String((err as { stderr?: string }).stderr ?? err).split('\n').find((l) => /Error|error/.test(l)) ?? 'failed';
        results.set(`${w}:${s}`, msg.slice(0, 160));
      }
      process.stderr.write(`${w} ${s} rep ${r + 1}/${reps} done\n`);
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en') : x.toFixed(2));
const lines = [
  `# Conveyor vs peers — ${new Date().toISOString().slice(0, 10)}`,
  '',
  `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; Redis and PostgreSQL on loopback.`,
  `Scale ${scale} (n per workload in its heading), ${reps} repetition(s), each in a fresh process; median (min–max). Payload {i, s: "x".repeat(100)}.`,
  'CPU columns cover the measured part only (not setup or the fill before W3/W5): the benchmark process, and the server — Redis by `INFO cpu`, PostgreSQL by /proc for all its processes (exited backends included). "—": no server, all work is in the client. Peak RSS is the client process over the whole run.',
  '',
];
for (const w of workloads) {
  lines.push(
    `## ${w} (n = ${sizeOf(w).toLocaleString('en')}): ${WORKLOADS[w].unit}`,
    '',
    `| system | settings | result | ratio to ${values.base} | CPU ms (client) | CPU ms (server) | peak RSS MB (client) | tables MB after |`,
    '|---|---|---:|---:|---:|---:|---:|---:|',
  );
  const base = results.get(`${w}:${values.base}`);
  const valueOf = (r: Row) => (w === 'W4' ? r.p50! : w === 'MEM' ? r.bytes! : r.rate!);
  const baseVal = Array.isArray(base) && base.length ? median(base.map(valueOf)) : NaN;
  for (const s of systems) {
    const rows = results.get(`${w}:${s}`);
    if (!Array.isArray(rows)) {
      lines.push(`| ${s} | | not measured: ${rows ?? 'skipped'} | | | | | |`);
      continue;
    }
    const server = rows[0].serverCpuMs === null ? '—' : fmt(median(rows.map((r) => r.serverCpuMs!)));
    const tables = rows[0].tableMb === null || rows[0].tableMb === undefined ? '—' : fmt(median(rows.map((r) => r.tableMb!)));
    const costs = `${fmt(median(rows.map((r) => r.cpuMs)))} | ${server} | ${Math.round(median(rows.map((r) => r.peakRssMb)))} | ${tables}`;
    if (w === 'W4') {
      const p = (k: 'p50' | 'p95' | 'p99') => fmt(median(rows.map((r) => r[k]!)));
      const ratio = baseVal / median(rows.map((r) => r.p50!));
      const versus = ratio >= 1 ? `${ratio.toFixed(2)}× faster p50` : `${fmt(1 / ratio)}× slower p50`;
      lines.push(`| ${s} | ${rows[0].settings} | ${p('p50')} / ${p('p95')} / ${p('p99')} | ${versus} | ${costs} |`);
    } else {
      const xs = rows.map(valueOf);
      lines.push(`| ${s} | ${rows[0].settings} | ${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}) | ${(median(xs) / baseVal).toFixed(2)}× | ${costs} |`);
    }
  }
  lines.push('');
}
const table = lines.join('\n');
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const suffix = `${scale === 1 ? '' : `-scale-${scale}`}${values.workloads ? `-${workloads.join('-')}` : ''}${values.only ? '-subset' : ''}`;
// Never over an earlier run's file: docs link to them.
const stem = `./results/${new Date().toISOString().slice(0, 10)}${suffix}`;
let file = new URL(`${stem}.md`, import.meta.url);
for (let n = 2; existsSync(file); n++) file = new URL(`${stem}-${n}.md`, import.meta.url);
writeFileSync(file, table);
console.log(table);
console.log(`\nwritten to ${file.pathname}`);
