import { Worker } from 'node:worker_threads';
import { Host, type HostOptions } from './host.ts';
import type { ChildMessage, ParentMessage } from './protocol.ts';
import { toWire } from './wire-error.ts';

// Beside this file: .ts when run from source, .js once built.
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const THREAD_MAIN = new URL(`./thread-main${EXT}`, import.meta.url);

/** A worker thread; its stdout and stderr come to us instead of the process's own. */
export class ThreadHost extends Host {
  readonly kind = 'thread';
  readonly id: number;
  private readonly worker: Worker;
  private pending = 3;
  private exitCode: number | null = null;

  constructor(options: HostOptions) {
    super(options);
    this.worker = new Worker(THREAD_MAIN, { stdout: true, stderr: true });
    this.id = this.worker.threadId;
    this.worker.stdout.setEncoding('utf8').on('data', (s: string) => this.out.stdout.push(s));
    this.worker.stderr.setEncoding('utf8').on('data', (s: string) => this.out.stderr.push(s));
    // The thread's output streams may end after its 'exit': settle once all three are in.
    this.worker.stdout.on('end', () => this.closed());
    this.worker.stderr.on('end', () => this.closed());
    this.worker.on('message', (m: ChildMessage) => this.received(m));
    this.worker.on('error', (err) => (this.fatal = err));
    this.worker.on('exit', (code) => {
      this.exitCode = code;
      this.closed();
    });
  }

  private closed(): void {
    if (--this.pending === 0) this.exitedWith(this.exitCode, null);
  }

  protected post(m: ParentMessage): void {
    this.worker.postMessage(m);
  }

  protected askStop(seq: number, reason: Error): void {
    this.post({ type: 'abort', seq, reason: toWire(reason) });
  }

  protected end(): void {
    void this.worker.terminate();
  }

  protected kill(): void {
    void this.worker.terminate();
  }

  setRef(on: boolean): void {
    if (on) this.worker.ref();
    else this.worker.unref();
  }
}
