/**
 * The Redis backend: Conveyor across many machines. Every state transition is one Lua
 * script over a whole batch (src/stores/redis/lua/), so a worker pays one round trip per
 * claim, per finish batch and per heartbeat, not per job. Reads are plain commands.
 *
 * Connections: one for commands, plus one blocking connection opened on the first wait()
 * or subscribe() and shared by all of them (see wakeups.ts). A Worker thus uses two.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.ts';
import { joinSchedule, progressJson, splitSchedule, type Schedule, type ScheduleProgress } from '../../core/schedule.ts';
import { NotFoundError, QueueFullError, ValidationError } from '../../core/errors.ts';
import type { ClaimedJob, EnqueueResult, Job, LogLine, NewJob } from '../../core/job.ts';
import { type QueueConfig, defaultQueueConfig } from '../../core/queue-config.ts';
import { FINISHED_STATES, JOB_STATES, type JobState } from '../../core/states.ts';
import { stallOutcome, startAttempt } from '../../engine/transitions.ts';
import { clampProgress, countGroup, decodeCursor, encodeCursor, GROUPS_SAMPLE, pageLimit, refuseTx, topGroups, truncateLine } from '../rules.ts';
import {
  type GroupCounts,
  type GroupPage,
  emptyCounts,
  type ClaimRequest,
  type CleanRequest,
  type EnqueueOptions,
  type JobEvent,
  type JobEventType,
  type FinishAndClaim,
  type JobPage,
  type JobUpdate,
  type Lease,
  type ListFilter,
  type MaintainReport,
  type Outcome,
  type QueueInfo,
  type StateCounts,
  type Store,
  type WorkerInfo,
  type MinuteCounts,
} from '../store.ts';
import { hashToJob, pairsToHash, parseLogLine, type Hash } from './codec.ts';
import { checkServer, duplicateForBlocking, openConnection, resolveOptions, type RedisClient, type RedisStoreOptions, type ResolvedOptions } from './connection.ts';
import { Keys } from './keys.ts';
import { byMinute, historyStart } from '../minutes.ts';
import { mergeScan, type Scored } from './merge-scan.ts';
import { Scripts, type ScriptName } from './scripts.ts';
import { Wakeups, type WakeInfo } from './wakeups.ts';
import { claimKey, Handoffs, type Registration } from './handoffs.ts';
import { claimLayout } from './layout.ts';

export type { RedisStoreOptions } from './connection.ts';

const DAY_MS = 86_400_000;
const CLEAN_CHUNK = 500;
const MAINTAIN_ROUNDS = 50;
const WARN_EVERY_MS = 30_000;

export class RedisStore implements Store {
  readonly kind = 'redis';
  /** A claim returns each queue's newest marker id; wait() reads past it (wakeups.ts). */
  readonly waitSeesMissedWork = true;
  /** finish-claim runs finish.lua then claim.lua in one script call. */
  readonly finishAndClaimInOneCall = true;
  readonly location: string;
  readonly clock: Clock;
  private readonly redis: RedisClient;
  private readonly keys: Keys;
  private readonly opts: ResolvedOptions;
  private readonly wakeups: Wakeups;
  private readonly handoffs: Handoffs;
  private readonly scripts: Scripts;
  private lastWarnAt = 0;
  private closing: Promise<void> | null = null;

  private constructor(redis: RedisClient, opts: ResolvedOptions) {
    this.redis = redis;
    this.opts = opts;
    this.location = opts.location;
    this.clock = opts.clock;
    this.keys = new Keys(opts.prefix);
    this.scripts = new Scripts(redis);
    redis.on('error', (err) => this.transient(err));
    const storeId = randomUUID();
    this.handoffs = new Handoffs(storeId);
    this.wakeups = new Wakeups({
      keys: this.keys,
      storeId,
      hand: this.handoffs,
      command: redis,
      clock: opts.clock,
      openBlocking: () => {
        const conn = duplicateForBlocking(redis);
        conn.on('error', (err) => this.transient(err));
        return conn;
      },
      peek: async (queues) => (await this.run('peek', queues)) as WakeInfo,
      onError: (err) => this.transient(err),
    });
  }

  /** Connects to `redis://` or `rediss://` URL; throws ConnectionError when it cannot. */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const opts = resolveOptions(url, options);
    const redis = await openConnection(opts.address, opts.location, options.connection);
    try {
      await checkServer(redis, opts.location, opts.warn);
      await claimLayout(redis, new Keys(opts.prefix), opts.location);
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    const store = new RedisStore(redis, opts);
    if (opts.lua === 'auto') await store.scripts.init();
    return store;
  }

  /** How the Lua runs on this server: 'function' (Redis 7+, loaded once) or 'script'. */
  get luaMode(): 'function' | 'script' {
    return this.scripts.mode;
  }

  /** Connection trouble is expected during a restart; say so now and then, not per retry. */
  private transient(err: unknown): void {
    const now = this.clock.now(); // real time: how often a person reads this warning
    if (now - this.lastWarnAt < WARN_EVERY_MS || this.closing) return;
    this.lastWarnAt = now;
    this.opts.warn(`Redis at ${this.location}: ${(err as Error)?.message ?? String(err)} (retrying)`);
  }

  private run(name: ScriptName, args: (string | number)[], now = this.clock.now()): Promise<unknown> {
    const head = [this.keys.base, now, this.opts.maxAgeMs ?? '', this.opts.maxFinishedPerQueue ?? '', this.opts.eventsMaxLen];
    // Only adds wait for replicas: a claim or finish lost in a failover runs a job again
    // (at least once), where a lost add would lose the job.
    const replicas = name === 'enqueue' ? { count: this.opts.replicas, timeoutMs: this.opts.replicaTimeoutMs } : undefined;
    return this.scripts.run(name, this.keys.events, [...head, ...args], replicas);
  }

  // ----- writes -------------------------------------------------------------------------

  async enqueue(jobs: NewJob[], options?: EnqueueOptions): Promise<EnqueueResult[]> {
    refuseTx(options, 'Redis');
    if (jobs.length === 0) return [];
    const args: (string | number)[] = [jobs.length];
    for (const j of jobs) {
      args.push(
        j.id,
        j.dedupe ? '1' : '0',
        j.queue,
        j.name,
        j.dataJson,
        j.priority,
        j.runAt ?? '',
        j.start ? '1' : '0',
        j.maxAttempts,
        j.backoff === null ? '' : JSON.stringify(j.backoff),
        j.timeoutMs ?? '',
        JSON.stringify(j.dependsOn),
        j.onParentFailure,
        j.groupKey ?? '',
        j.resultTtlMs ?? '',
        j.failureTtlMs ?? '',
        j.scheduleId ?? '',
        j.startBy ?? '',
        j.trace ?? '',
        j.dedupeBy?.key ?? '',
        j.dedupeBy?.mode ?? '',
        j.dedupeBy?.ttlMs ?? '',
        j.debounceBy?.key ?? '',
        j.debounceBy?.delayMs ?? '',
      );
    }
    const reply = (await this.run('enqueue', args)) as string[];
    if (reply[0] === 'ERR') {
      throw reply[1] === 'NOT_FOUND' ? new NotFoundError(reply[2]) : new QueueFullError(reply[2]);
    }
    const out: EnqueueResult[] = [];
    // The third value: '0' added, '1' a duplicate, '2' a debounced add (a duplicate that moved the job).
    for (let i = 0; i + 2 < reply.length; i += 3) {
      out.push({ id: reply[i], state: reply[i + 1] as JobState, duplicate: reply[i + 2] !== '0', ...(reply[i + 2] === '2' ? { debounced: true } : {}) });
    }
    return out;
  }

  async claim(req: ClaimRequest): Promise<ClaimedJob[]> {
    const plan = this.planClaim(req);
    if (Array.isArray(plan)) return plan;
    return this.claimed(req, plan, await this.run('claim', plan.args, plan.now));
  }

  /** Outcomes and the next claim in one script run: finish.lua, then claim.lua. */
  async finishAndClaim(outcomes: Outcome[], next: ClaimRequest): Promise<FinishAndClaim> {
    if (outcomes.length === 0) return { finished: [], claimed: await this.claim(next) };
    const plan = this.planClaim(next);
    if (Array.isArray(plan)) return { finished: await this.finish(outcomes), claimed: plan };
    const [finished, claim] = (await this.run('finish-claim', [...finishArgs(outcomes), ...plan.args], plan.now)) as [number[], unknown];
    return { finished: finished.map((v) => v === 1), claimed: await this.claimed(next, plan, claim) };
  }

  /**
   * What a claim sends, or its answer when Redis need not be asked: jobs handed over while
   * the worker was parked (leased to it already), or nothing for a quiet claim.
   */
  private planClaim(req: ClaimRequest): ClaimedJob[] | ClaimPlan {
    if (req.limit < 1 || req.queues.length === 0) return [];
    const handed = this.handoffs.take(req.workerId, req.limit);
    if (handed.length > 0) return handed;
    if (req.parkMs !== undefined && !(typeof req.parkMs === 'number' && req.parkMs > 0 && Number.isFinite(req.parkMs))) {
      throw new ValidationError(`parkMs must be a positive number of ms; got ${String(req.parkMs)}`, 'parkMs');
    }
    const names = req.names ?? [];
    const now = this.clock.now();
    const key = req.parkMs ? claimKey(req.queues, names) : '';
    if (req.parkMs && this.handoffs.stillQuiet(req.workerId, key, now, req.parkMs, (marks) => this.wakeups.quietSince(req.queues, marks))) return [];
    const tokenBase = `${randomUUID()}:`;
    const prev = this.handoffs.unpark(req.workerId);
    const park = req.parkMs ? this.handoffs.registration(req.workerId, req.queues, names, req.limit, req.leaseMs, now + req.parkMs) : null;
    const args = [req.workerId, req.limit, req.leaseMs, tokenBase, names.length, ...names, req.queues.length, ...req.queues];
    args.push(park?.reg ?? '', park?.until ?? '', prev?.reg ?? '', prev?.until ?? '');
    return { args, now, key, tokenBase, prev, park };
  }

  /** The jobs of a claim script's reply (claim.lua), and what it says about parking. */
  private async claimed(req: ClaimRequest, plan: ClaimPlan, reply: unknown): Promise<ClaimedJob[]> {
    const [jobs, info, wasHanded, plain] = reply as [unknown[], WakeInfo, number, number];
    const { now, prev, park, tokenBase } = plan;
    this.wakeups.note(info);
    if (wasHanded === 1 && prev) return this.handoffs.handed(req.workerId, prev, req.limit);
    if (park && jobs.length === 0) {
      this.handoffs.park(req.workerId, park);
      this.wakeups.ensureReading();
      if (plain === 1) this.handoffs.quietAfter(req.workerId, plan.key, info);
    }
    return jobs.map((flat, i) => {
      // The reply is each job as it was before the claim: apply what the claim wrote.
      const h = pairsToHash(flat);
      const job = hashToJob(h, Number(h.logCount)) as ClaimedJob;
      job.state = 'active';
      startAttempt(job, req.workerId, now, req.leaseMs);
      job.token = `${tokenBase}${i + 1}`;
      return job;
    });
  }

  /**
   * Takes a worker's registration off its queues and hands back what was handed to it and
   * never returned by a claim (a worker that stops): queued again, its attempt not spent.
   */
  private async unparkAndRelease(workerId: string, r: Registration | undefined): Promise<void> {
    let jobs = this.handoffs.take(workerId);
    if (r) {
      const multi = this.redis.multi();
      for (const q of r.queues) multi.zrem(this.keys.idle(q), r.reg);
      const res = (await multi.exec()) ?? [];
      const kept = res.reduce((n, [, v]) => n + Number(v ?? 0), 0);
      if (kept === 0 && this.clock.now() < r.until) jobs = [...jobs, ...(await this.handoffs.handed(workerId, r))];
    }
    if (jobs.length === 0) return;
    await this.run('unclaim', [jobs.length, ...jobs.flatMap((j) => [j.id, j.token])]);
  }

  async extend(leases: Lease[], leaseMs: number): Promise<boolean[]> {
    if (leases.length === 0) return [];
    const args: (string | number)[] = [leaseMs, leases.length];
    for (const l of leases) args.push(l.id, l.token);
    return ((await this.run('extend', args)) as number[]).map((v) => v === 1);
  }

  async finish(outcomes: Outcome[]): Promise<boolean[]> {
    if (outcomes.length === 0) return [];
    return ((await this.run('finish', finishArgs(outcomes))) as number[]).map((v) => v === 1);
  }

  async update(updates: JobUpdate[]): Promise<boolean[]> {
    if (updates.length === 0) return [];
    const args: (string | number)[] = [updates.length];
    for (const u of updates) {
      const logs = u.logs ?? [];
      args.push(
        u.id,
        u.token ?? '',
        u.progress === undefined ? '' : clampProgress(u.progress),
        u.message === undefined ? '' : u.message === null ? 'n' : 's',
        u.message ?? '',
        logs.length,
      );
      for (const l of logs) args.push(l.stream, truncateLine(String(l.line)));
    }
    return ((await this.run('update', args)) as number[]).map((v) => v === 1);
  }

  async cancel(ids: string[], reason = 'canceled'): Promise<string[]> {
    return ids.length === 0 ? [] : ((await this.run('cancel', [reason, ...ids])) as string[]);
  }

  async remove(ids: string[]): Promise<string[]> {
    return ids.length === 0 ? [] : ((await this.run('remove', ids)) as string[]);
  }

  async retry(ids: string[]): Promise<string[]> {
    return ids.length === 0 ? [] : ((await this.run('retry', ids)) as string[]);
  }

  async promote(ids: string[]): Promise<string[]> {
    return ids.length === 0 ? [] : ((await this.run('promote', ids)) as string[]);
  }

  async clean(req: CleanRequest): Promise<number> {
    const states = [...new Set<JobState>(req.states ?? FINISHED_STATES)].filter((s) => s !== 'active');
    if (states.length === 0) return 0;
    const now = this.clock.now();
    const cutoff = now - (req.olderThanMs ?? 0);
    let removed = 0;
    let bound = '-inf';
    while (true) {
      const remaining = req.limit === undefined ? '' : req.limit - removed;
      if (remaining !== '' && remaining <= 0) break;
      const [n, next] = (await this.run('clean', [req.queue, cutoff, remaining, CLEAN_CHUNK, bound, ...states], now)) as [number, string];
      removed += n;
      if (next === '') break;
      bound = next;
    }
    return removed;
  }

  async configureQueue(queue: string, patch: Partial<QueueConfig>): Promise<QueueConfig> {
    const stored = (await this.run('configure', [queue, JSON.stringify(patch)])) as string;
    return withDefaults(stored);
  }

  // ----- reads --------------------------------------------------------------------------

  async get(id: string): Promise<Job | null> {
    return (await this.getMany([id]))[0];
  }

  /** Jobs by id in one round trip: the hash, its long values and the log count of each. */
  private async getMany(ids: string[]): Promise<(Job | null)[]> {
    if (ids.length === 0) return [];
    const p = this.redis.pipeline();
    for (const id of ids) {
      p.hgetall(this.keys.job(id)).get(this.keys.data(id)).get(this.keys.result(id)).get(this.keys.errors(id)).llen(this.keys.logs(id));
    }
    const replies = (await p.exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
    return ids.map((_, i) => {
      const [h, data, result, errors, logCount] = replies.slice(i * 5, i * 5 + 5).map(([, v]) => v);
      const hash = h as Hash;
      if (hash.state === undefined) return null;
      // The hash does not hold its id (enqueue.lua): the key does.
      hash.id = ids[i];
      // Data and results up to 512 bytes live in the hash (in chunks), longer ones in their own keys.
      const long = { data: (data as string | null) ?? 'null', result: (result as string | null) ?? 'null', errors: (errors as string | null) ?? '[]' };
      return hashToJob({ ...long, ...hash }, Number(logCount));
    });
  }

  async list(filter: ListFilter): Promise<JobPage> {
    const limit = pageLimit(filter.limit);
    const after = decodeCursor(filter.cursor);
    const desc = (filter.order ?? 'desc') === 'desc';
    const states = filter.states && filter.states.length > 0 ? new Set(filter.states) : null;
    const text = filter.text ? filter.text.toLowerCase() : null;
    // One sorted set per queue and state, all scored by creation sequence; active jobs, which
    // only the lease sets hold, are read whole (a worker's slots, not a backlog) and sorted here.
    const queues = filter.queue === undefined ? await this.redis.smembers(this.keys.queues) : [filter.queue];
    const wanted = [...(states ?? JOB_STATES)];
    const keys = queues.flatMap((q) => wanted.filter((s) => s !== 'active').map((s) => this.keys.state(s, q)));
    const active = wanted.includes('active') ? await this.activeByCreation(queues) : [];
    const out: { job: Job; score: number }[] = [];
    const seen = new Set<string>();
    let more = false;
    scan: for await (const round of mergeScan(this.redis, keys, desc, after ? after[0] : null, active)) {
      const jobs = await this.getMany(round.map((r) => r.id));
      for (let i = 0; i < round.length; i++) {
        const job = jobs[i];
        if (!job || seen.has(job.id)) continue;
        seen.add(job.id);
        if (filter.queue !== undefined && job.queue !== filter.queue) continue;
        if (states && !states.has(job.state)) continue;
        if (filter.name !== undefined && job.name !== filter.name) continue;
        if (text && !job.id.toLowerCase().includes(text) && !JSON.stringify(job.data).toLowerCase().includes(text)) continue;
        if (out.length === limit) {
          more = true;
          break scan;
        }
        out.push({ job, score: round[i].score });
      }
    }
    const last = out[out.length - 1];
    return { jobs: out.map((x) => x.job), next: more && last ? encodeCursor(last.score, last.job.id) : null };
  }

  /** The active jobs of these queues with their creation sequence (the score lists sort by). */
  private async activeByCreation(queues: string[]): Promise<Scored[]> {
    const p = this.redis.pipeline();
    for (const q of queues) p.zrange(this.keys.lease(q), 0, -1);
    const ids = ((await p.exec()) ?? []).flatMap(([err, v]) => {
      if (err) throw err;
      return v as string[];
    });
    if (ids.length === 0) return [];
    const q = this.redis.pipeline();
    for (const id of ids) q.hget(this.keys.job(id), 'cseq');
    const seqs = (await q.exec()) ?? [];
    // A job that finished between the two reads has no lease any more: the page skips it
    // when it reads the job (its state is no longer active) or lists it under its new state.
    return ids.flatMap((id, i) => (typeof seqs[i]?.[1] === 'string' ? [{ id, score: Number(seqs[i][1]) }] : []));
  }

  async logs(id: string, afterSeq = 0, limit = 1000): Promise<LogLine[]> {
    const key = this.keys.logs(id);
    const [[, exists], [, first]] = (await this.redis.pipeline().exists(this.keys.job(id)).lindex(key, 0).exec()) as [unknown, unknown][];
    if (!exists) throw new NotFoundError(`job ${id} not found`);
    if (first === null || limit < 1) return [];
    const firstSeq = parseLogLine(first as string).seq;
    const start = Math.max(0, afterSeq - firstSeq + 1);
    const raw = await this.redis.lrange(key, start, start + limit - 1);
    return raw.map(parseLogLine).filter((l) => l.seq > afterSeq);
  }

  async counts(queues?: string[]): Promise<Record<string, StateCounts>> {
    const names = queues ?? (await this.redis.smembers(this.keys.queues));
    if (names.length === 0) return {};
    const p = this.redis.pipeline();
    for (const q of names) for (const s of JOB_STATES) p.zcard(this.keys.counted(s, q));
    const replies = (await p.exec()) ?? [];
    const out: Record<string, StateCounts> = {};
    names.forEach((q, i) => {
      const c = emptyCounts();
      JOB_STATES.forEach((s, k) => {
        c[s] = Number(replies[i * JOB_STATES.length + k][1]);
      });
      out[q] = c;
    });
    return out;
  }

  /**
   * Groups are read from the first GROUPS_SAMPLE ready and active jobs (one pipeline of
   * HGETs): Redis keeps per-group counts of active jobs only while a limit needs them.
   */
  async groups(queue: string, limit?: number): Promise<GroupPage> {
    const states = ['queued', 'active'] as const;
    const ids = await Promise.all(states.map((st) => this.redis.zrange(this.keys.counted(st, queue), 0, GROUPS_SAMPLE)));
    const p = this.redis.pipeline();
    for (const list of ids) for (const id of list.slice(0, GROUPS_SAMPLE)) p.hget(this.keys.job(id), 'groupKey');
    const replies = (await p.exec()) ?? [];
    const counts = new Map<string, GroupCounts>();
    let k = 0;
    states.forEach((st, i) => {
      for (let n = 0; n < Math.min(ids[i].length, GROUPS_SAMPLE); n++) {
        const g = replies[k++]?.[1];
        if (typeof g === 'string' && g !== '') countGroup(counts, g, st);
      }
    });
    return { groups: topGroups(counts, limit), sampled: ids.some((list) => list.length > GROUPS_SAMPLE) };
  }

  async dependents(id: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.children(id))).sort();
  }

  async history(since: number, queues?: string[]): Promise<MinuteCounts[]> {
    const names = queues ?? (await this.redis.smembers(this.keys.queues));
    const from = historyStart(since, this.clock.now());
    const days: number[] = [];
    for (let d = Math.floor(from / DAY_MS) * DAY_MS; d <= this.clock.now(); d += DAY_MS) days.push(d);
    if (names.length === 0 || days.length === 0) return [];
    const p = this.redis.pipeline();
    for (const q of names) for (const d of days) p.hgetall(this.keys.minutes(q, d));
    const replies = (await p.exec()) ?? [];
    const byKey = new Map<string, MinuteCounts>();
    names.forEach((queue, i) =>
      days.forEach((_, k) => {
        for (const [field, n] of Object.entries((replies[i * days.length + k][1] ?? {}) as Record<string, string>)) {
          const [atText, kind] = field.split(':');
          const at = Number(atText);
          if (at < from) continue;
          let t = byKey.get(`${queue}\n${at}`);
          if (!t) byKey.set(`${queue}\n${at}`, (t = { queue, at, completed: 0, failed: 0 }));
          if (kind === 'c') t.completed += Number(n);
          else t.failed += Number(n);
        }
      }),
    );
    return [...byKey.values()].sort(byMinute);
  }

  async queues(): Promise<QueueInfo[]> {
    const names = (await this.redis.smembers(this.keys.queues)).sort((a, b) => a.localeCompare(b));
    if (names.length === 0) return [];
    const configs = await this.redis.mget(names.map((q) => this.keys.config(q)));
    const counts = await this.counts(names);
    return names.map((name, i) => ({ name, config: withDefaults(configs[i]), counts: counts[name] }));
  }

  async queueConfig(queue: string): Promise<QueueConfig> {
    return withDefaults(await this.redis.get(this.keys.config(queue)));
  }

  // ----- upkeep -------------------------------------------------------------------------

  async maintain(now = this.clock.now()): Promise<MaintainReport> {
    const report: MaintainReport = { promoted: 0, reclaimed: 0, expired: 0 };
    for (let round = 0; round < MAINTAIN_ROUNDS; round++) {
      const [promoted, expired, more, leases] = (await this.run('maintain', [], now)) as [number, number, number, string[]];
      report.promoted += promoted;
      report.expired += expired;
      const stalled: Outcome[] = [];
      for (let i = 0; i + 4 < leases.length; i += 5) {
        const job = { id: leases[i], attempt: Number(leases[i + 2]), maxAttempts: Number(leases[i + 3]), workerId: leases[i + 4] || null };
        stalled.push(stallOutcome(job, leases[i + 1], now));
      }
      if (stalled.length > 0) report.reclaimed += (await this.finish(stalled)).filter(Boolean).length;
      if (more !== 1) break;
    }
    return report;
  }

  wait(queues: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.wakeups.wait(queues, timeoutMs, signal);
  }

  subscribe(listener: (event: JobEvent) => void, types?: readonly JobEventType[]): () => void {
    return this.wakeups.subscribe(listener, types);
  }

  // ----- schedules ----------------------------------------------------------------------

  async saveSchedule(schedule: Schedule): Promise<void> {
    const { spec, progress } = splitSchedule(schedule);
    const field = `${schedule.queue}\n${schedule.id}`;
    await this.redis.multi().hset(this.keys.schedules, field, spec).hset(this.keys.scheduleProgress, field, progress).exec();
  }

  async schedules(queue?: string): Promise<Schedule[]> {
    const [specs, progress] = await Promise.all([this.redis.hgetall(this.keys.schedules), this.redis.hgetall(this.keys.scheduleProgress)]);
    return Object.keys(specs)
      .filter((field) => progress[field] !== undefined && (queue === undefined || field.startsWith(`${queue}\n`)))
      .map((field) => joinSchedule(specs[field], progress[field]))
      .sort((a, b) => a.queue.localeCompare(b.queue) || a.id.localeCompare(b.id));
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    const field = `${queue}\n${id}`;
    const replies = await this.redis.multi().hdel(this.keys.schedules, field).hdel(this.keys.scheduleProgress, field).exec();
    return Number(replies?.[0]?.[1] ?? 0) > 0;
  }

  async advanceSchedule(queue: string, id: string, expected: ScheduleProgress, next: ScheduleProgress): Promise<boolean> {
    return (await this.run('advance-schedule', [`${queue}\n${id}`, progressJson(expected), progressJson(next)])) === 1;
  }

  async problem(): Promise<string | null> {
    try {
      await this.redis.ping();
      return null;
    } catch (err) {
      return `Redis at ${this.location} does not answer: ${(err as Error).message}`;
    }
  }

  // ----- leadership ---------------------------------------------------------------------

  async lead(role: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.run('lead', [role, holder, ttlMs])) === 1;
  }

  async resign(role: string, holder: string): Promise<void> {
    await this.run('resign', [role, holder]);
  }

  // ----- workers ------------------------------------------------------------------------

  async reportWorker(info: WorkerInfo, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.workers, info.id, JSON.stringify(info))
      .zadd(this.keys.workersUntil, this.clock.now() + ttlMs, info.id)
      .exec();
  }

  async removeWorker(id: string): Promise<void> {
    await this.unparkAndRelease(id, this.handoffs.unpark(id));
    await this.redis.multi().hdel(this.keys.workers, id).zrem(this.keys.workersUntil, id).exec();
  }

  async workers(): Promise<WorkerInfo[]> {
    const ids = await this.redis.zrangebyscore(this.keys.workersUntil, `(${this.clock.now()}`, '+inf');
    if (ids.length === 0) return [];
    const raw = await this.redis.hmget(this.keys.workers, ...ids);
    return raw.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as WorkerInfo);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const [workerId, r] of this.handoffs.unparkAll()) await this.unparkAndRelease(workerId, r).catch(() => {});
      this.wakeups.close();
      await Promise.race([this.redis.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1_000).unref())]);
      this.redis.disconnect();
    })();
    return this.closing;
  }
}

function withDefaults(stored: string | null): QueueConfig {
  const cfg = defaultQueueConfig();
  return stored ? { ...cfg, ...(JSON.parse(stored) as Partial<QueueConfig>) } : cfg;
}

/** The result as JSON text; refuses (changing nothing) what JSON cannot carry. */
function resultJson(result: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(result === undefined ? null : result);
  } catch (err) {
    throw new ValidationError(`job result must be JSON-serializable: ${(err as Error).message}`, 'result');
  }
  return text ?? 'null';
}

/** A claim's arguments and what reading its reply needs (RedisStore.planClaim). */
interface ClaimPlan {
  args: (string | number)[];
  now: number;
  /** The quiet-claim key ('' when the claim does not park). */
  key: string;
  tokenBase: string;
  prev: Registration | undefined;
  park: Registration | null;
}

/** finish.lua's arguments: the count, then FINISH_FIELDS per outcome. */
function finishArgs(outcomes: Outcome[]): (string | number)[] {
  const args: (string | number)[] = [outcomes.length];
  for (const o of outcomes) {
    if (o.kind === 'completed') {
      args.push(o.id, o.token, 'c', resultJson(o.result), '0', '', '', '', '');
    } else {
      const stack = o.error.stack;
      args.push(
        o.id,
        o.token,
        'f',
        String(o.error.message),
        stack === undefined || stack === null ? '0' : '1',
        stack ?? '',
        o.next.state,
        o.next.state === 'scheduled' ? o.next.runAt : '',
        o.stalledAt ?? '',
      );
    }
  }
  return args;
}
