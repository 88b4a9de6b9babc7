/**
 * Entry point of a ThreadRunner's worker thread: runs one job at a time on `run` messages.
 * An `abort` fires the handler's signal; a handler that ignores it is ended by the parent
 * with worker.terminate() after the grace period.
 */
import { parentPort } from 'node:worker_threads';
import { JobExecutor } from './execute.ts';
import type { ChildMessage, ParentMessage } from './protocol.ts';
import { fromWire } from './wire-error.ts';

const port = parentPort;
if (!port) throw new Error('thread-main.ts runs only inside a worker thread');

const executor = new JobExecutor(async (m: ChildMessage) => port.postMessage(m));

port.on('message', (m: ParentMessage) => {
  if (m.type === 'run') void executor.run(m);
  else if (m.type === 'abort') executor.abort(m.seq, fromWire(m.reason));
});
