/** What every route needs: the store, Queue objects by name, and server facts. */
import { NotFoundError } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import { Queue } from '../queue.ts';
import type { Store } from '../stores/store.ts';

export class ServerContext {
  readonly store: Store;
  readonly startedAt = Date.now();
  readonly uploadDir: string;
  /** Most bytes of all files of one upload. */
  readonly maxUploadBytes: number;
  private readonly queues = new Map<string, Queue>();

  constructor(store: Store, uploadDir: string, maxUploadBytes = 200 * 1024 * 1024) {
    this.store = store;
    this.uploadDir = uploadDir;
    this.maxUploadBytes = maxUploadBytes;
  }

  /** A Queue for the name (validated by Queue's constructor). */
  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(this.store, name);
      if (this.queues.size < 10_000) this.queues.set(name, q);
    }
    return q;
  }

  /** The job and its Queue, or NotFoundError. */
  async job(id: string): Promise<{ job: Job; queue: Queue }> {
    const job = await this.store.get(id);
    if (!job) throw new NotFoundError(`job ${id} not found`);
    return { job, queue: this.queue(job.queue) };
  }

  async close(): Promise<void> {
    for (const q of this.queues.values()) await q.close();
  }
}
