/**
 * Entry point of a ProcessRunner's child. It waits for `run` messages over IPC and runs
 * one job at a time. SIGTERM means "stop": the running handler's signal fires, and the
 * child exits once the handler returns (the parent sends SIGKILL if it does not).
 */
import { AbortedError } from '../../core/errors.ts';
import { JobExecutor } from './execute.ts';
import type { ChildMessage, ParentMessage } from './protocol.ts';
import { fromWire, toWire } from './wire-error.ts';

function send(m: ChildMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send || !process.connected) return reject(new Error('the parent is gone'));
    process.send(m, undefined, {}, (err) => (err ? reject(err) : resolve()));
  });
}

const executor = new JobExecutor(send);
let stopping = false;

process.on('message', (m: ParentMessage) => {
  if (m.type === 'run') {
    void executor.run(m).finally(() => {
      if (stopping) process.exit(0);
    });
  } else if (m.type === 'abort') {
    executor.abort(m.seq, fromWire(m.reason));
  }
});

process.on('SIGTERM', () => {
  stopping = true;
  if (!executor.busy) process.exit(0);
  executor.abort(null, new AbortedError('job stopped (SIGTERM)'));
});

// The parent died or closed the channel: nobody will read our results.
process.on('disconnect', () => process.exit(0));

process.on('uncaughtException', (err) => {
  const exit = () => process.exit(1);
  send({ type: 'fatal', error: toWire(err) }).then(exit, exit);
});
