import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { Host, type HostOptions } from './host.ts';
import type { ChildMessage, ParentMessage } from './protocol.ts';
import { toWire } from './wire-error.ts';

// Beside this file: .ts when run from source, .js once built.
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const PROCESS_MAIN = new URL(`./process-main${EXT}`, import.meta.url);

export interface ProcessHostOptions extends HostOptions {
  execArgv: string[];
  env: NodeJS.ProcessEnv | undefined;
}

/** A child process (fork of this Node binary) with its stdout and stderr piped to us. */
export class ProcessHost extends Host {
  readonly kind = 'process';
  readonly id: number;
  private readonly child: ChildProcess;

  constructor(options: ProcessHostOptions) {
    super(options);
    this.child = fork(PROCESS_MAIN, [], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Structured clone, as for threads: results keep Dates, Maps, typed arrays...
      serialization: 'advanced',
      execArgv: options.execArgv,
      ...(options.env ? { env: options.env } : {}),
    });
    this.id = this.child.pid ?? -1;
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => this.out.stdout.push(s));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => this.out.stderr.push(s));
    this.child.on('message', (m: ChildMessage) => this.received(m));
    // 'close' comes after the exit and after both pipes are drained: no line is lost.
    this.child.on('close', (code, signal) => this.exitedWith(code, signal));
    this.child.on('error', (err) => {
      // Spawning failed (no 'close' follows), or a send/kill raced the child's death.
      if (this.child.pid === undefined) {
        this.fatal = err;
        this.exitedWith(null, null);
      }
    });
  }

  protected post(m: ParentMessage): void {
    // A send to a dying child fails; its 'close' settles the job.
    this.child.send(m, undefined, {}, () => {});
  }

  protected askStop(seq: number, reason: Error): void {
    // The message carries the reason (canceled, timed out...); SIGTERM makes the child
    // exit once its handler returns, so a stopped child is never reused.
    this.post({ type: 'abort', seq, reason: toWire(reason) });
    this.child.kill('SIGTERM');
  }

  protected end(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
  }

  protected kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  setRef(on: boolean): void {
    const handles: { ref(): unknown; unref(): unknown }[] = [this.child, this.child.stdout as Socket, this.child.stderr as Socket];
    if (this.child.channel) handles.push(this.child.channel);
    for (const h of handles) {
      if (on) h.ref();
      else h.unref();
    }
  }
}
