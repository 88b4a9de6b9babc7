/**
 * SharedQueue next to postMessage (a MessageChannel per producer/consumer pair), in one run:
 *   ./node_modules/.bin/node bench/shared-queue.ts [items] [reps] [shapes]
 * (shapes: which producer→consumer cases, e.g. `1-1,4-4`; default all four).
 * Throughput for ~100-byte objects and 100-byte raw items (raw next to postMessage with a
 * transferred ArrayBuffer too), 1→1, 1→4, 4→1 and 4→4, single and batched; then hand-off
 * latency p50/p99 of one item at a time (half the round trip of an item echoed back, timed
 * on one thread's clock). Every case runs `reps` times (default 5),
 * interleaved with its postMessage counterpart; the table shows medians and the ratio of
 * medians. Threads start first and say "ready": start-up is not timed.
 */
import { once } from 'node:events';
import { isMainThread, MessageChannel, parentPort, Worker, workerData, type MessagePort } from 'node:worker_threads';
import { SharedQueue } from '../src/shared-queue/index.ts';

type Mode = 'sq' | 'port' | 'transfer';
interface Job {
  mode: Mode;
  role: 'put' | 'get';
  count: number;
  batch: number;
  rawItems: boolean;
  /** Raw consumers take batches with consumeRaw (no object per item) instead of getMany. */
  consumeRaw?: boolean;
  latency: boolean;
  handle?: unknown;
  /** Latency cases: the queue the consumer echoes each item back on. */
  back?: unknown;
  port?: MessagePort;
}

const obj = (i: number) => ({ id: i, kind: 'event', payload: 'x'.repeat(60), ok: true });
const raw = new Uint8Array(100).fill(7);

if (!isMainThread) {
  const j = workerData as Job;
  parentPort!.postMessage('ready');
  await new Promise((r) => parentPort!.once('message', r));
  if (j.mode !== 'sq') {
    const port = j.port!;
    if (j.role === 'put' && j.latency) {
      const lat: number[] = [];
      for (let i = 0; i < j.count; i++) {
        const t0 = performance.now();
        const echoed = once(port, 'message');
        port.postMessage({ i });
        await echoed;
        lat.push((performance.now() - t0) / 2);
      }
      parentPort!.postMessage(lat);
      port.close();
    } else if (j.role === 'put') {
      for (let i = 0; i < j.count; i++) {
        if (j.mode === 'transfer') {
          const b = raw.slice();
          port.postMessage(b, [b.buffer]);
        } else port.postMessage(j.rawItems ? raw : obj(i));
      }
      parentPort!.postMessage('done');
    } else {
      let n = 0;
      port.on('message', (m: unknown) => {
        if (j.latency) port.postMessage(m);
        if (++n === j.count) {
          parentPort!.postMessage('done');
          if (!j.latency) port.close();
        }
      });
    }
  } else {
    const q = SharedQueue.connect(j.handle as Parameters<typeof SharedQueue.connect>[0]);
    const back = j.latency ? SharedQueue.connect(j.back as Parameters<typeof SharedQueue.connect>[0]) : null;
    if (j.role === 'put' && back) {
      const lat: number[] = [];
      for (let i = 0; i < j.count; i++) {
        const t0 = performance.now();
        q.put({ i });
        back.get();
        lat.push((performance.now() - t0) / 2);
      }
      parentPort!.postMessage(lat);
    } else if (j.role === 'put') {
      if (j.batch === 1) for (let i = 0; i < j.count; i++) q.put(j.rawItems ? raw : obj(i));
      else {
        for (let i = 0; i < j.count; i += j.batch) {
          const items = [];
          for (let k = 0; k < j.batch && i + k < j.count; k++) items.push(j.rawItems ? raw : obj(i + k));
          q.putBatch(items);
        }
      }
      parentPort!.postMessage('done');
    } else if (j.consumeRaw) {
      let sum = 0;
      const onItem = (bytes: Uint8Array, offset: number, length: number) => {
        sum += bytes[offset] + length;
      };
      for (let n = 0; n < j.count; ) n += q.consumeRaw(Math.min(j.batch, j.count - n), onItem);
      parentPort!.postMessage(sum > 0 ? 'done' : 'empty?');
    } else {
      for (let n = 0; n < j.count; ) {
        if (back) {
          back.put(q.get());
          n++;
        } else n += j.batch === 1 ? (q.get(), 1) : q.getMany(Math.min(j.batch, j.count - n)).length;
      }
      parentPort!.postMessage('done');
    }
  }
} else {
  const N = Number(process.argv[2] ?? 1_000_000);
  const REPS = Number(process.argv[3] ?? 5);
  const url = new URL(import.meta.url);

  /** Runs one case; resolves with items/s, or with the latencies (ms) for a latency case. */
  async function run(mode: Mode, producers: number, consumers: number, batch: number, rawItems: boolean, latency = false, consumeRaw = false): Promise<number | number[]> {
    // Raw items run 4x as many: at millions a second, 500,000 of them end before the JIT has
    // warmed up, and the figure measured start-up.
    const total = latency ? 2000 : rawItems ? N * 4 : N;
    const perP = Math.floor(total / producers);
    const perC = Math.floor((perP * producers) / consumers);
    const workers: Worker[] = [];
    const spawn = (role: 'put' | 'get', count: number, extra: Partial<Job>, transferList: MessagePort[] = []) =>
      workers.push(new Worker(url, { workerData: { mode, role, count, batch, rawItems, latency, consumeRaw, ...extra }, transferList }));
    if (mode === 'sq') {
      const q = SharedQueue.create({ name: `bench-${Math.random()}`, capacity: 8192, maxItemBytes: 256 });
      const back = latency ? { back: SharedQueue.create({ name: `back-${Math.random()}`, capacity: 16, maxItemBytes: 256 }).handle } : {};
      for (let p = 0; p < producers; p++) spawn('put', perP, { handle: q.handle, ...back });
      for (let c = 0; c < consumers; c++) spawn('get', perC, { handle: q.handle, ...back });
    } else {
      // postMessage has no many-to-many queue: one channel per pair, producers and consumers matched.
      const pairs = Math.max(producers, consumers);
      for (let k = 0; k < pairs; k++) {
        const { port1, port2 } = new MessageChannel();
        spawn('put', Math.floor(perP * producers / pairs), { port: port1 }, [port1]);
        spawn('get', Math.floor(perP * producers / pairs), { port: port2 }, [port2]);
      }
    }
    const next = () => Promise.all(workers.map((w) => Promise.race([once(w, 'message').then(([m]) => m), once(w, 'error').then(([e]) => Promise.reject(e))])));
    await next();
    const t0 = performance.now();
    for (const w of workers) w.postMessage('go');
    const answers = await next();
    const secs = (performance.now() - t0) / 1000;
    await Promise.all(workers.map((w) => w.terminate()));
    if (latency) return answers.filter(Array.isArray).flat() as number[];
    return (perP * producers) / secs;
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
  const fmt = (n: number) => Math.round(n).toLocaleString('en');
  const shapes = (process.argv[4] ?? '1-1,1-4,4-1,4-4').split(',').map((x) => x.split('-').map(Number) as [number, number]);
  const rows = ['| items | threads | mode | postMessage items/s | SharedQueue items/s | ratio |', '|---|---|---|---:|---:|---:|'];
  for (const rawItems of [false, true]) {
    for (const [p, c] of shapes) {
      for (const [batch, inPlace] of rawItems ? ([[1, false], [256, false], [256, true]] as const) : ([[1, false], [256, false]] as const)) {
        const port: number[] = [];
        const sq: number[] = [];
        for (let r = 0; r < REPS; r++) {
          port.push((await run('port', p, c, 1, rawItems)) as number);
          sq.push((await run('sq', p, c, batch, rawItems, false, inPlace)) as number);
        }
        const how = batch === 1 ? 'single' : `batch ${batch}${inPlace ? ', consumeRaw' : ''}`;
        rows.push(`| ${rawItems ? 'raw 100 B' : '~100 B object'} | ${p}→${c} | ${how} | ${fmt(median(port))} | ${fmt(median(sq))} | ${(median(sq) / median(port)).toFixed(2)}× |`);
      }
    }
    if (rawItems) {
      const tr: number[] = [];
      const sq: number[] = [];
      for (let r = 0; r < REPS; r++) {
        tr.push((await run('transfer', 1, 1, 1, true)) as number);
        sq.push((await run('sq', 1, 1, 256, true, false, true)) as number);
      }
      rows.push(`| raw 100 B | 1→1 | batch 256, consumeRaw, vs transferred ArrayBuffers | ${fmt(median(tr))} | ${fmt(median(sq))} | ${(median(sq) / median(tr)).toFixed(2)}× |`);
    }
  }
  const lat = ['| hand-off latency, one item at a time, 1→1 | p50 ms | p99 ms |', '|---|---:|---:|'];
  for (const mode of ['port', 'sq'] as const) {
    const all: number[] = [];
    for (let r = 0; r < REPS; r++) all.push(...((await run(mode, 1, 1, 1, false, true)) as number[]));
    lat.push(`| ${mode === 'port' ? 'postMessage' : 'SharedQueue'} | ${pct(all, 0.5).toFixed(3)} | ${pct(all, 0.99).toFixed(3)} |`);
  }
  console.log(`SharedQueue vs postMessage: ${N.toLocaleString('en')} objects or ${(N * 4).toLocaleString('en')} raw items per case, ${REPS} interleaved runs, medians; node ${process.version}\n`);
  console.log(rows.join('\n'));
  console.log('');
  console.log(lat.join('\n'));
}
