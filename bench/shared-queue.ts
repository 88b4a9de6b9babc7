/**
 * SharedQueue throughput next to a MessagePort postMessage stream, in one run:
 *   ./node_modules/.bin/node bench/shared-queue.ts [items]
 * Prints items/s for ~100-byte objects and 100-byte raw items, 1→1 and 4→4, single and
 * batched, and the ratio to postMessage.
 */
import { once } from 'node:events';
import { isMainThread, MessageChannel, parentPort, Worker, workerData } from 'node:worker_threads';
import { SharedQueue } from '../src/shared-queue/index.ts';

const N = Number(process.argv[2] ?? 400_000);
const obj = (i: number) => ({ id: i, kind: 'event', payload: 'x'.repeat(60), ok: true });
const raw = new Uint8Array(100).fill(7);

interface Job { mode: 'sq' | 'port'; role: 'put' | 'get'; count: number; batch: number; rawItems: boolean; handle?: unknown; port?: import('node:worker_threads').MessagePort }

if (!isMainThread) {
  const j = workerData as Job;
  if (j.mode === 'port') {
    const port = j.port!;
    if (j.role === 'put') {
      for (let i = 0; i < j.count; i++) port.postMessage(j.rawItems ? raw : obj(i));
      parentPort!.postMessage('done');
    } else {
      let n = 0;
      port.on('message', () => {
        if (++n === j.count) {
          parentPort!.postMessage('done');
          port.close();
        }
      });
    }
  } else {
    const q = SharedQueue.connect(j.handle as Parameters<typeof SharedQueue.connect>[0]);
    if (j.role === 'put') {
      if (j.batch === 1) for (let i = 0; i < j.count; i++) q.put(j.rawItems ? raw : obj(i));
      else {
        for (let i = 0; i < j.count; i += j.batch) {
          const items = [];
          for (let k = 0; k < j.batch && i + k < j.count; k++) items.push(j.rawItems ? raw : obj(i + k));
          q.putBatch(items);
        }
      }
    } else {
      for (let n = 0; n < j.count; ) n += j.batch === 1 ? (q.get(), 1) : q.getMany(Math.min(j.batch, j.count - n)).length;
    }
    parentPort!.postMessage('done');
  }
} else {
  const url = new URL(import.meta.url);
  async function run(mode: 'sq' | 'port', pairs: number, batch: number, rawItems: boolean): Promise<number> {
    const per = Math.floor(N / pairs);
    const workers: Worker[] = [];
    const t0 = performance.now();
    if (mode === 'sq') {
      const q = SharedQueue.create({ name: `bench-${Math.random()}`, capacity: 8192, maxItemBytes: 256 });
      for (let p = 0; p < pairs; p++) {
        workers.push(new Worker(url, { workerData: { mode, role: 'put', count: per, batch, rawItems, handle: q.handle } }));
        workers.push(new Worker(url, { workerData: { mode, role: 'get', count: per, batch, rawItems, handle: q.handle } }));
      }
    } else {
      for (let p = 0; p < pairs; p++) {
        const { port1, port2 } = new MessageChannel();
        workers.push(new Worker(url, { workerData: { mode, role: 'put', count: per, batch, rawItems, port: port1 }, transferList: [port1] }));
        workers.push(new Worker(url, { workerData: { mode, role: 'get', count: per, batch, rawItems, port: port2 }, transferList: [port2] }));
      }
    }
    await Promise.all(workers.map((w) => Promise.race([once(w, 'message'), once(w, 'error').then(([e]) => Promise.reject(e))])));
    const secs = (performance.now() - t0) / 1000;
    await Promise.all(workers.map((w) => w.terminate()));
    return (per * pairs) / secs;
  }
  const rows: string[] = ['| items | threads | mode | postMessage items/s | SharedQueue items/s | ratio |', '|---|---|---|---:|---:|---:|'];
  for (const rawItems of [false, true]) {
    for (const pairs of [1, 4]) {
      const port = await run('port', pairs, 1, rawItems);
      for (const batch of [1, 256]) {
        const sq = await run('sq', pairs, batch, rawItems);
        rows.push(`| ${rawItems ? 'raw 100 B' : '~100 B object'} | ${pairs}→${pairs} | ${batch === 1 ? 'single' : `batch ${batch}`} | ${Math.round(port).toLocaleString('en')} | ${Math.round(sq).toLocaleString('en')} | ${(sq / port).toFixed(2)}× |`);
      }
    }
  }
  console.log(`SharedQueue vs postMessage, ${N.toLocaleString('en')} items per case, node ${process.version}\n`);
  console.log(rows.join('\n'));
}
