/**
 * Hand-overs: a Worker whose claim found nothing is parked on its queues (claim.lua), and
 * the script that next makes work ready there leases it to that worker and sends it down
 * this store's hand stream (handOff in lua/lib.lua), which the blocking read already
 * watches. The wake-up thus carries the job: no claim round trip after it.
 *
 * This class keeps, per worker, its registration while parked and the jobs handed to it
 * until its next claim() returns them. A claim that takes a registration back and finds a
 * hand-over consumed it waits here for those jobs to arrive, instead of claiming more.
 */
import { randomUUID } from 'node:crypto';
import type { ClaimedJob } from '../../core/job.ts';
import { startAttempt } from '../../engine/transitions.ts';
import { hashToJob, pairsToHash } from './codec.ts';

/**
 * A registration lasts as long as its worker said it would wait, plus this: past it, new
 * work wakes the worker the usual way (and a worker that died is handed nothing more).
 */
const PARK_GRACE_MS = 1_000;
/**
 * How long a claim waits for jobs a hand-over already sent (they are in Redis, a read away).
 * Real time: a bound on delivery, like the blocking read's watchdog, not job time.
 */
const HANDED_WAIT_MS = 2_000;

/** A claim's identity for quiet answers: its queues and job names, in any order. */
export function claimKey(queues: readonly string[], names: readonly string[]): string {
  return `${[...queues].sort().join('\n')}\u0000${[...names].sort().join('\n')}`;
}

/** A parked worker's last claim that took nothing from queues without limits. */
interface Quiet {
  key: string;
  /** The newest marker id of each queue, as the claim read it. */
  marks: Map<string, string>;
  /** The soonest due time it reported (wait() consumes the ones it acts on: kept here). */
  due: number;
}

export interface Registration {
  /** The JSON registration stored in each queue's idle set. */
  reg: string;
  /** Token base of the jobs handed over for it (`<base><n>`). */
  base: string;
  until: number;
  queues: string[];
}

export class Handoffs {
  private readonly parked = new Map<string, Registration>();
  private readonly inbox = new Map<string, ClaimedJob[]>();
  private readonly arrivals = new Map<string, () => void>();
  /**
   * Registrations a hand-over consumed before the claim that made them returned (the
   * stream read can beat the claim's reply): park() must not keep them.
   */
  private readonly consumed = new Set<string>();
  /** Set once a worker parked: from then on the blocking read watches the hand stream. */
  used = false;
  private readonly quiet = new Map<string, Quiet>();

  private readonly storeId: string;

  constructor(storeId: string) {
    this.storeId = storeId;
  }

  /** A registration for a worker about to park (claim.lua stores it if it takes nothing). */
  registration(workerId: string, queues: string[], names: string[], limit: number, leaseMs: number, waitUntil: number): Registration {
    const base = `${randomUUID()}:`;
    const reg = JSON.stringify({ t: base, s: this.storeId, w: workerId, n: limit, l: leaseMs, q: queues, ...(names.length > 0 ? { m: names } : {}) });
    return { reg, base, until: waitUntil + PARK_GRACE_MS, queues };
  }

  park(workerId: string, r: Registration): void {
    this.used = true;
    if (this.consumed.delete(r.base)) return;
    this.parked.set(workerId, r);
  }

  /** Until when the worker's registration lasts, if it is parked (and not handed work since). */
  parkedUntil(workerId: string): number | undefined {
    return this.parked.get(workerId)?.until;
  }

  /** The worker's registration, taken back (the caller removes it from Redis). */
  unpark(workerId: string): Registration | undefined {
    const r = this.parked.get(workerId);
    this.parked.delete(workerId);
    this.quiet.delete(workerId);
    return r;
  }

  /** Records a claim that took nothing from plain queues and parked the worker (WakeInfo triples). */
  quietAfter(workerId: string, key: string, info: readonly string[]): void {
    const marks = new Map<string, string>();
    let due = Infinity;
    for (let i = 0; i + 2 < info.length; i += 3) {
      marks.set(info[i], info[i + 1]);
      if (info[i + 2] !== '') due = Math.min(due, Number(info[i + 2]));
    }
    this.quiet.set(workerId, { key, marks, due });
  }

  /**
   * Whether the worker's claim `key` would take nothing, known without asking Redis. A
   * parked worker claims again when its own finish is written (that may free a limit's
   * slot). On queues without limits only new work changes the answer, and new work either
   * comes down the hand stream to its registration or announces itself with a marker: so
   * if the last claim was the same and plain, the registration is live and unhanded, no
   * newer marker was read (`unannounced`) and no due time has come, the answer is still
   * nothing. Anything else forgets the record: the caller asks Redis.
   */
  stillQuiet(workerId: string, key: string, now: number, parkMs: number, unannounced: (marks: ReadonlyMap<string, string>) => boolean): boolean {
    const q = this.quiet.get(workerId);
    const until = this.parked.get(workerId)?.until ?? 0;
    if (q && q.key === key && now < q.due && until >= now + parkMs && unannounced(q.marks)) return true;
    this.quiet.delete(workerId);
    return false;
  }

  /** Every registration, taken back (closing). */
  unparkAll(): [string, Registration][] {
    const all = [...this.parked];
    this.parked.clear();
    return all;
  }

  /** Whether jobs of these queues were handed over and not yet returned by a claim. */
  waiting(queues: string[]): boolean {
    for (const jobs of this.inbox.values()) for (const j of jobs) if (queues.includes(j.queue)) return true;
    return false;
  }

  /** Up to `limit` jobs handed to the worker and not yet returned. */
  take(workerId: string, limit = Infinity): ClaimedJob[] {
    const jobs = this.inbox.get(workerId);
    if (!jobs || jobs.length === 0) return [];
    const out = jobs.splice(0, limit);
    if (jobs.length === 0) this.inbox.delete(workerId);
    return out;
  }

  /**
   * One hand stream entry: `_w` worker, `_t` token, `_a` time of the hand-over, `_l` lease
   * ms, then the job's hash as the script read it. Returns the job's queue.
   */
  receive(fields: string[]): string {
    const workerId = fields[1];
    const token = fields[3];
    const h = pairsToHash(fields.slice(8));
    const job = hashToJob(h, Number(h.logCount)) as ClaimedJob;
    job.state = 'active';
    startAttempt(job, workerId, Number(fields[5]), Number(fields[7]));
    job.token = token;
    const jobs = this.inbox.get(workerId);
    if (jobs) jobs.push(job);
    else this.inbox.set(workerId, [job]);
    const base = token.slice(0, token.lastIndexOf(':') + 1);
    // A registration serves one hand-over: this one is gone from Redis already.
    if (this.parked.get(workerId)?.base === base) this.parked.delete(workerId);
    else if (!this.arrivals.has(base)) this.consumed.add(base);
    this.arrivals.get(base)?.();
    return job.queue;
  }

  /** The jobs a hand-over sent for registration `r`: waits for them to come down the stream. */
  async handed(workerId: string, r: Registration, limit = Infinity): Promise<ClaimedJob[]> {
    const has = () => this.inbox.get(workerId)?.some((j) => j.token.startsWith(r.base)) ?? false;
    if (!has()) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, HANDED_WAIT_MS);
        timer.unref();
        this.arrivals.set(r.base, resolve);
      });
      clearTimeout(timer);
      // Only now: every entry of the hand-over came in the same read, before this ran.
      this.arrivals.delete(r.base);
    }
    return this.take(workerId, limit);
  }
}
