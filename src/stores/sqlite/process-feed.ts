/**
 * What a SQLite store hears from the other processes (stores) on its file: their writes
 * wake this store's waiters (PRAGMA data_version, polled every POLL_MS only while someone
 * waits or listens), and their events reach this store's subscribers through the `events`
 * table. Events of this store's own transactions are delivered in memory (deliver()).
 *
 * Writers add an events row only while another store listens (othersListen()): a store
 * with subscribers registers in `listeners` and renews that every LISTEN_RENEW_MS, so a
 * process alone on its file writes no events rows.
 */
import type { StatementSync } from 'node:sqlite';
import type { JobEvent } from '../store.ts';
import type { Clock } from '../../core/clock.ts';
import { Waiters } from '../waiters.ts';
import { LISTEN_RENEW_MS, LISTEN_TTL_MS } from './schema.ts';

/** How often other processes' writes are looked for, while someone waits or listens. */
const POLL_MS = 25;

export interface FeedDeps {
  /** A prepared (cached) statement on the store's connection. */
  st(sql: string): StatementSync;
  /** PRAGMA data_version: changes when another connection commits. */
  version(): number;
  /** This store's id in the events and listeners tables. */
  origin: string;
  /** Job time: waiters' timeouts and due times. */
  clock: Clock;
}

export class ProcessFeed {
  /** This store's waiters: woken by its own writes (notify) and by other processes' (poll). */
  readonly waiters: Waiters;
  private readonly deps: FeedDeps;
  private readonly listeners = new Set<(e: JobEvent) => void>();
  private waiting = 0;
  private lastEventId = 0;
  private dataVersion: number;
  private poller: ReturnType<typeof setInterval> | null = null;
  private renewer: ReturnType<typeof setInterval> | null = null;
  private closed = false;

  constructor(deps: FeedDeps) {
    this.deps = deps;
    this.waiters = new Waiters(deps.clock);
    this.dataVersion = deps.version();
  }

  /** Sleeps until a waiter of these queues is notified, or the timeout. */
  async wait(queues: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.waiting++;
    this.startPolling();
    try {
      await this.waiters.wait(queues, timeoutMs, signal);
    } finally {
      this.waiting--;
      this.stopPollingIfIdle();
    }
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    if (this.listeners.size === 0) this.listen();
    this.listeners.add(listener);
    this.startPolling();
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0) this.unlisten();
      this.stopPollingIfIdle();
    };
  }

  /** Hands this store's own (committed) event to its subscribers. */
  deliver(e: JobEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A listener's failure must not break the store.
      }
    }
  }

  /** Whether another store reads the events table (asked inside the write transaction). */
  othersListen(): boolean {
    return this.deps.st('SELECT 1 FROM listeners WHERE until > ? AND origin <> ? LIMIT 1').get(Date.now(), this.deps.origin) !== undefined;
  }

  close(): void {
    if (this.closed) return;
    if (this.listeners.size > 0) this.unlisten();
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    this.waiters.closeAll();
    this.listeners.clear();
  }

  /**
   * Registers this store as a reader of the events table. The starting point is read
   * first: a transaction that commits before the registration writes no row, and one that
   * commits after it writes a row past that point. A store that dies stops counting after
   * LISTEN_TTL_MS.
   */
  private listen(): void {
    this.lastEventId = (this.deps.st('SELECT COALESCE(MAX(id), 0) AS id FROM events').get() as { id: number }).id;
    this.register();
    this.renewer = setInterval(() => this.register(), LISTEN_RENEW_MS);
    this.renewer.unref();
  }

  private register(): void {
    try {
      // In the store's open transaction if there is one, else on its own (committed at once).
      this.deps.st('INSERT OR REPLACE INTO listeners (origin, until) VALUES (?, ?)').run(this.deps.origin, Date.now() + LISTEN_TTL_MS);
    } catch {
      // Busy: the next renewal registers.
    }
  }

  private unlisten(): void {
    if (this.renewer) clearInterval(this.renewer);
    this.renewer = null;
    try {
      this.deps.st('DELETE FROM listeners WHERE origin = ?').run(this.deps.origin);
    } catch {
      // Busy: the registration expires by itself.
    }
  }

  private startPolling(): void {
    if (this.poller || this.closed) return;
    this.poller = setInterval(() => this.poll(), POLL_MS);
    this.poller.unref();
  }

  private stopPollingIfIdle(): void {
    if (this.poller && this.waiting === 0 && this.listeners.size === 0) {
      clearInterval(this.poller);
      this.poller = null;
    }
  }

  /** Another process wrote: wake waiters, and pass its events to our listeners. */
  private poll(): void {
    if (this.closed) return;
    try {
      const v = this.deps.version();
      if (v === this.dataVersion) return;
      this.dataVersion = v;
      if (this.listeners.size > 0) {
        const rows = this.deps.st('SELECT id, origin, body FROM events WHERE id > ? ORDER BY id LIMIT 5000').all(this.lastEventId) as { id: number; origin: string; body: string }[];
        for (const r of rows) {
          this.lastEventId = r.id;
          if (r.origin === this.deps.origin) continue;
          // A row holds one transaction's events (older files hold one event per row).
          const body = JSON.parse(r.body) as JobEvent | JobEvent[];
          for (const e of Array.isArray(body) ? body : [body]) this.deliver(e);
        }
      }
      this.waiters.notifyAll();
    } catch {
      // Busy or closing: the next tick looks again.
    }
  }
}
