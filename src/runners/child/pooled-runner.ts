/**
 * What the thread and process runners share: a pool of hosts (threads or children), one
 * job per host at a time. A host is reused while it is healthy; a host that crashed, was
 * stopped, or ran an isolated job is ended and replaced on demand by a fresh one.
 */
import { EventEmitter } from 'node:events';
import { StateError } from '../../core/errors.ts';
import type { Job } from '../../core/job.ts';
import type { JobContext, Runner } from '../runner.ts';
import type { Host, HostExit } from './host.ts';
import { resolvePoolOptions, type PooledRunnerOptions, type ResolvedPoolOptions } from './runner-options.ts';

export interface PooledRunnerEvents {
  /** A thread or child started (pid or threadId). */
  spawn: [info: { kind: 'thread' | 'process'; id: number }];
  /** A thread or child ended: exit code or signal, and whether we ended it. */
  exit: [exit: HostExit];
}

export abstract class PooledRunner extends EventEmitter<PooledRunnerEvents> implements Runner {
  abstract readonly kind: 'thread' | 'process';
  protected readonly options: ResolvedPoolOptions;
  private readonly idle: Host[] = [];
  private readonly hosts = new Set<Host>();
  private closed = false;

  constructor(options: PooledRunnerOptions) {
    super();
    this.options = resolvePoolOptions(options);
  }

  protected abstract spawn(): Host;

  /** Threads or children alive now (busy and idle). */
  get size(): number {
    return this.hosts.size;
  }

  async run(job: Job, ctx: JobContext): Promise<unknown> {
    if (this.closed) throw new StateError(`the ${this.kind} runner is closed`);
    const host = this.take();
    host.setRef(true);
    try {
      return await host.run(job, ctx);
    } finally {
      this.giveBack(host);
    }
  }

  /** Stops running jobs (their hosts get the grace period) and ends idle hosts. */
  async close(): Promise<void> {
    this.closed = true;
    this.idle.length = 0;
    await Promise.all([...this.hosts].map((h) => h.shutdown()));
  }

  private take(): Host {
    for (let h = this.idle.pop(); h; h = this.idle.pop()) {
      if (!h.retired) return h;
    }
    const host = this.spawn();
    this.hosts.add(host);
    host.onExit = (exit) => {
      this.hosts.delete(host);
      const i = this.idle.indexOf(host);
      if (i !== -1) this.idle.splice(i, 1);
      this.emit('exit', exit);
    };
    this.emit('spawn', { kind: host.kind, id: host.id });
    return host;
  }

  private giveBack(host: Host): void {
    if (host.retired) return;
    if (this.closed || this.options.isolate || this.idle.length >= this.options.pool) {
      void host.shutdown();
      return;
    }
    // An idle host must not keep the process alive on its own.
    host.setRef(false);
    this.idle.push(host);
  }
}
