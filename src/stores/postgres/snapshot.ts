/**
 * How the PostgreSQL store runs the shared state machine (../job-machine.ts), which is
 * synchronous, over rows that live across the network. Inside one transaction the store
 * fetches (and locks) the rows an operation will touch, runs the machine over them here,
 * and writes what changed back in one statement (./flush.ts).
 *
 * The machine may reach rows nobody fetched (a finished job's children, their other
 * parents, a queue's counts for admission): then a read throws `Missing`, the store fetches
 * what it names, and the operation runs again from the fetched rows. Each run starts from
 * the rows as fetched (nothing of a previous run is kept), and each miss adds rows, so the
 * loop ends; most operations need a single run.
 */
import type { Job } from '../../core/job.ts';
import { DEFAULT_QUEUE_CONFIG, type QueueConfig, defaultQueueConfig } from '../../core/queue-config.ts';
import type { JobState } from '../../core/states.ts';
import type { JobRows } from '../job-machine.ts';
import { decodeDoc, type DocColumns } from '../job-doc.ts';
import type { JobEvent } from '../store.ts';

/** A job row as the store selects it (see ROW in postgres-store.ts). */
export interface PgRow extends DocColumns {
  data: string;
  doc: string;
  token: string | null;
  log_count: number;
  /** Ids of the jobs that wait on this one, as the reading statement's snapshot saw them. */
  children: string[] | null;
  /** Some add linked a dependent to this job (schema.ts, migration 4): `children` may be stale. */
  linked?: boolean;
}

/** What a run needed and had not been fetched. */
export interface Needs {
  jobs: Set<string>;
  /** Parents whose children are needed (when the parent row itself is gone). */
  parents: Set<string>;
  queues: Set<string>;
  /** "queue\u0000name" (name '' for the whole queue): unfinished counts for admission. */
  unfinished: Set<string>;
  /** "queue\u0000name" → how many of the oldest waiting ids. */
  oldest: Map<string, number>;
}

export class Missing extends Error {
  readonly needs: Needs;
  constructor(needs: Needs) {
    super('rows not fetched yet');
    this.needs = needs;
  }
}

export function noNeeds(): Needs {
  return { jobs: new Set(), parents: new Set(), queues: new Set(), unfinished: new Set(), oldest: new Map() };
}

function need(fill: (n: Needs) => void): never {
  const n = noNeeds();
  fill(n);
  throw new Missing(n);
}

/** A job written by a run: a row that existed (update) or one it added (insert). */
export interface Written {
  job: Job;
  token: string | null;
  /** Became queued in this run: takes a new arrival number. */
  requeued: boolean;
  /** Set for rows this run added. */
  dataJson?: string;
  /** New data for a row that exists (a debounced add). */
  newData?: string;
}

export class Snapshot implements JobRows {
  // ----- fetched (kept across runs) ---------------------------------------------------
  private readonly fetched = new Map<string, PgRow | null>();
  private readonly childrenOf = new Map<string, string[]>();
  private readonly configs = new Map<string, QueueConfig>();
  private readonly unfinishedCounts = new Map<string, number>();
  private readonly oldestIds = new Map<string, { ids: string[]; complete: boolean }>();

  // ----- one run's changes -------------------------------------------------------------
  private live = new Map<string, Job>();
  private tokens = new Map<string, string | null>();
  /** Final versions of written rows, by id. */
  written = new Map<string, Written>();
  /** Rows that existed and are deleted. */
  deleted = new Set<string>();
  links: [child: string, parent: string][] = [];
  /** Parents whose dependency edges are consumed. */
  taken = new Set<string>();
  events: JobEvent[] = [];
  /** Queues that got ready work, and the earliest new due time per queue. */
  woken = new Set<string>();
  due = new Map<string, number>();

  /** Starts a run from the fetched rows. */
  begin(): void {
    this.live = new Map();
    this.tokens = new Map();
    this.written = new Map();
    this.deleted = new Set();
    this.links = [];
    this.taken = new Set();
    this.events = [];
    this.woken = new Set();
    this.due = new Map();
  }

  // ----- filled by the store ----------------------------------------------------------

  /** Rows fetched for `asked` ids: an id without a row is known absent. */
  absorb(rows: PgRow[], asked: Iterable<string> = []): void {
    for (const id of asked) if (!this.fetched.has(id)) this.fetched.set(id, null);
    for (const r of rows) {
      this.fetched.set(r.id, r);
      // A linked row's children are read again after its lock is held (a Missing 'parents').
      if (r.linked) this.childrenOf.delete(r.id);
      else this.childrenOf.set(r.id, r.children ?? []);
    }
  }

  absorbChildren(parent: string, children: string[]): void {
    this.childrenOf.set(parent, children);
  }

  absorbConfig(queue: string, stored: object | null): void {
    this.configs.set(queue, stored ? { ...DEFAULT_QUEUE_CONFIG, ...(stored as QueueConfig) } : defaultQueueConfig());
  }

  absorbUnfinished(key: string, n: number): void {
    this.unfinishedCounts.set(key, n);
  }

  absorbOldest(key: string, ids: string[], complete: boolean): void {
    this.oldestIds.set(key, { ids, complete });
  }

  has(id: string): boolean {
    return this.fetched.has(id);
  }

  hasConfig(queue: string): boolean {
    return this.configs.has(queue);
  }

  /** The state of a fetched row before this operation (undefined: absent). */
  before(id: string): JobState | undefined {
    return (this.fetched.get(id)?.state as JobState | undefined) ?? undefined;
  }

  /** The row as fetched (for reads of columns the machine does not keep). */
  row(id: string): PgRow | null | undefined {
    return this.fetched.get(id);
  }

  // ----- admission ---------------------------------------------------------------------

  unfinished(queue: string, name?: string): number {
    const key = `${queue}\u0000${name ?? ''}`;
    const n = this.unfinishedCounts.get(key);
    if (n === undefined) need((x) => x.unfinished.add(key));
    return n;
  }

  oldestWaiting(queue: string, name: string | undefined, n: number, skip: ReadonlySet<string>): string[] {
    const key = `${queue}\u0000${name ?? ''}`;
    const got = this.oldestIds.get(key);
    const out = got ? got.ids.filter((id) => !skip.has(id)).slice(0, n) : [];
    if (!got || (out.length < n && !got.complete)) need((x) => x.oldest.set(key, n + skip.size + 100));
    return out;
  }

  // ----- JobRows -----------------------------------------------------------------------

  load(id: string): Job | null {
    if (this.deleted.has(id)) return null;
    const live = this.live.get(id);
    if (live) return live;
    if (!this.fetched.has(id)) need((x) => x.jobs.add(id));
    const row = this.fetched.get(id);
    if (!row) return null;
    const job = decodeDoc(row.doc, row);
    job.data = null;
    job.logCount = row.log_count;
    this.live.set(id, job);
    this.tokens.set(id, row.token);
    return job;
  }

  leased(id: string, token: string): Job | null {
    const job = this.load(id);
    return job && job.state === 'active' && this.tokens.get(id) === token ? job : null;
  }

  stateOf(id: string): JobState | undefined {
    if (this.deleted.has(id)) return undefined;
    const live = this.live.get(id);
    if (live) return live.state;
    if (!this.fetched.has(id)) need((x) => x.jobs.add(id));
    return this.before(id);
  }

  config(queue: string): QueueConfig {
    const cfg = this.configs.get(queue);
    if (!cfg) need((x) => x.queues.add(queue));
    return cfg;
  }

  write(job: Job, _from: JobState, token: string | null): void {
    const t = job.state === 'active' ? token : null;
    this.tokens.set(job.id, t);
    const prev = this.written.get(job.id);
    this.written.set(job.id, {
      job,
      token: t,
      requeued: (prev?.requeued ?? false) || job.state === 'queued',
      ...(prev?.dataJson === undefined ? {} : { dataJson: prev.dataJson }),
      ...(prev?.newData === undefined ? {} : { newData: prev.newData }),
    });
    this.announce(job);
  }

  replaceData(job: Job, dataJson: string): void {
    const prev = this.written.get(job.id) ?? { job, token: this.tokens.get(job.id) ?? null, requeued: false };
    // A row added in this run is inserted with the new data; one that exists is updated.
    this.written.set(job.id, prev.dataJson !== undefined ? { ...prev, dataJson } : { ...prev, newData: dataJson });
  }

  /** A finished job in another queue: written back with its queue column (flush.ts). */
  moveQueue(job: Job): void {
    this.write(job, job.state, null);
  }

  /** Records a change that is not a move (progress, message): no new arrival, no wake-up. */
  touch(job: Job): void {
    const prev = this.written.get(job.id);
    this.written.set(job.id, {
      job,
      token: this.tokens.get(job.id) ?? null,
      requeued: prev?.requeued ?? false,
      ...(prev?.dataJson === undefined ? {} : { dataJson: prev.dataJson }),
      ...(prev?.newData === undefined ? {} : { newData: prev.newData }),
    });
  }

  /** The lease token of a loaded job (null when it has none). */
  tokenOf(id: string): string | null {
    return this.tokens.get(id) ?? null;
  }

  insert(job: Job, dataJson: string): void {
    this.live.set(job.id, job);
    this.tokens.set(job.id, null);
    this.written.set(job.id, { job, token: null, requeued: false, dataJson });
    this.announce(job);
  }

  delete(job: Job): void {
    const w = this.written.get(job.id);
    this.written.delete(job.id);
    this.live.delete(job.id);
    // A row this run added and removes again never reaches the table, nor do its edges.
    if (w?.dataJson !== undefined) this.links = this.links.filter(([child]) => child !== job.id);
    else this.deleted.add(job.id);
  }

  link(child: string, parents: string[]): void {
    for (const p of parents) this.links.push([child, p]);
  }

  takeChildren(parentId: string): string[] {
    if (this.taken.has(parentId)) return [];
    const stored = this.childrenOf.get(parentId);
    if (stored === undefined) need((x) => x.parents.add(parentId));
    const added = this.links.filter(([, p]) => p === parentId).map(([c]) => c);
    this.links = this.links.filter(([, p]) => p !== parentId);
    this.taken.add(parentId);
    return [...stored, ...added];
  }

  emit(e: JobEvent): void {
    this.events.push(e);
  }

  private announce(job: Job): void {
    if (job.state === 'queued') this.woken.add(job.queue);
    else if (job.state === 'scheduled' && job.runAt !== null) {
      const at = this.due.get(job.queue);
      if (at === undefined || job.runAt < at) this.due.set(job.queue, job.runAt);
    }
  }
}
