/**
 * What a PostgreSQL store hears from the other processes on its schema, over one LISTEN
 * connection per store (shared by all its waiters and subscribers):
 * - `<schema>.wake`: queues that got ready work and new due times, sent by every write
 *   that makes work ready; it wakes this store's waiters (workers idle in Store.wait).
 *   Heard only from this store's first worker or waiter on (listenWake): a process that
 *   only adds jobs would otherwise receive a notification for each of its own adds, which
 *   cost a single add about a fifth of its client CPU (docs/stores-postgres.md).
 * - `<schema>.events`: job events, sent only while some store has subscribers (it
 *   registers in the `listeners` table), so a busy system without dashboards or event
 *   listeners sends none.
 * NOTIFY is transactional: nothing is heard before the writer commits. A store's own
 * writes reach its waiters and subscribers in memory, right after its commit (deliver());
 * notifications it sent itself are skipped, except those of a caller's transaction
 * (origin ''), which only the notification announces.
 *
 * A lost connection is reopened with backoff; on reopening every waiter wakes, since a
 * notification may have been missed meanwhile.
 */
import pg from 'pg';
import type { Clock } from '../../core/clock.ts';
import { Waiters } from '../waiters.ts';
import type { JobEvent, JobEventType } from '../store.ts';
import { channelsOf, type Channels } from './flush.ts';
import { LISTEN_RENEW_MS, LISTEN_TTL_MS } from './schema.ts';

export interface FeedDeps {
  connection: pg.ClientConfig;
  schema: string;
  origin: string;
  clock: Clock;
  /** Runs a statement on the store's pool (listener registration). */
  query(text: string, values: unknown[]): Promise<unknown>;
}

export class ListenFeed {
  readonly waiters: Waiters;
  private readonly deps: FeedDeps;
  private readonly channels: Channels;
  /** Each subscriber and the event types it wants (null: all). */
  private readonly subscribers = new Map<(e: JobEvent) => void, readonly JobEventType[] | null>();
  /** The types registered in the listeners table (null: all), as text to compare. */
  private registered: string | undefined;
  private client: pg.Client | null = null;
  private listeningEvents = false;
  /** listenWake() was called: LISTEN on the wake channel, now and after each reconnect. */
  private wakeOn: Promise<void> | null = null;
  /** That LISTEN is in force: whatever commits from now on is heard. */
  private wakeInForce = false;
  private toggling: Promise<unknown> = Promise.resolve();
  private renewer: ReturnType<typeof setInterval> | null = null;
  private reconnect: ReturnType<typeof setTimeout> | null = null;
  private retryMs = 100;
  private closed = false;
  /** Why the LISTEN connection is down, or null. */
  lastError: string | null = null;
  private readonly probeChannel: string;
  private probeHeard: ((payload: string) => void) | null = null;

  constructor(deps: FeedDeps) {
    this.deps = deps;
    this.waiters = new Waiters(deps.clock);
    this.channels = channelsOf(deps.schema);
    this.probeChannel = `${deps.schema}.probe`;
  }

  /**
   * Whether this connection hears a notification sent on another one (the store's pool)
   * within `timeoutMs`. Behind a pooler in transaction mode it does not: the LISTEN
   * session's server connection goes back to the pool after each transaction, and what
   * it hears reaches no one.
   */
  async hearsNotifications(timeoutMs: number): Promise<boolean> {
    const client = this.client;
    if (!client) return false;
    const nonce = Math.random().toString(36).slice(2);
    await client.query(`LISTEN "${this.probeChannel}"`);
    try {
      return await new Promise<boolean>((resolve, reject) => {
        // Real time: this waits on the network, not on job time.
        const timer = setTimeout(() => resolve(false), timeoutMs);
        this.probeHeard = (payload) => {
          if (payload !== nonce) return;
          clearTimeout(timer);
          resolve(true);
        };
        this.deps.query('SELECT pg_notify($1, $2)', [this.probeChannel, nonce]).catch((err: unknown) => {
          clearTimeout(timer);
          reject(err as Error);
        });
      });
    } finally {
      this.probeHeard = null;
      await client.query(`UNLISTEN "${this.probeChannel}"`).catch(() => undefined);
    }
  }

  /** Opens the LISTEN connection; fails when PostgreSQL cannot be reached. */
  async start(): Promise<void> {
    const client = new pg.Client(this.deps.connection);
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (n) => (n.channel === this.probeChannel ? this.probeHeard?.(n.payload ?? '') : this.heard(n.channel, n.payload ?? '')));
    await client.connect();
    if (this.wakeOn) await client.query(`LISTEN "${this.channels.wake}"`);
    if (this.subscribers.size > 0) await client.query(`LISTEN "${this.channels.events}"`);
    this.listeningEvents = this.subscribers.size > 0;
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.lastError = null;
    this.retryMs = 100;
  }

  /** True once the LISTEN that listenWake() started is in force. */
  get hearsWake(): boolean {
    return this.wakeInForce;
  }

  /**
   * Starts hearing wake-ups (once; they stay on): resolves when the LISTEN is in force, so
   * anything committed after that is heard. A connection that is down listens when it
   * reopens, and its reopening wakes every waiter.
   */
  listenWake(): Promise<void> {
    if (this.wakeOn) return this.wakeOn;
    const client = this.client;
    if (!client || this.closed) {
      // Down: the reconnect listens, then wakes every waiter.
      this.wakeInForce = true;
      this.wakeOn = Promise.resolve();
      return this.wakeOn;
    }
    // One statement at a time on this connection (pg refuses overlapping queries). A
    // failure means the connection is lost: its reconnect listens.
    this.toggling = this.toggling.then(() => client.query(`LISTEN "${this.channels.wake}"`)).catch(() => undefined);
    this.wakeOn = this.toggling.then(() => {
      this.wakeInForce = true;
    });
    return this.wakeOn;
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client || this.closed) return;
    this.client = null;
    this.lastError = `the LISTEN connection to PostgreSQL was lost: ${err.message}`;
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnect) return;
    // Real time: this waits for a server to come back, not for job time.
    this.reconnect = setTimeout(() => {
      this.reconnect = null;
      this.start().then(
        () => this.waiters.notifyAll(),
        (err: Error) => {
          this.lastError = `cannot reach PostgreSQL for notifications: ${err.message}`;
          this.retryMs = Math.min(5_000, this.retryMs * 2);
          this.scheduleReconnect();
        },
      );
    }, this.retryMs);
    this.reconnect.unref();
  }

  private heard(channel: string, payload: string): void {
    const space = payload.indexOf(' ');
    const origin = payload.slice(0, space);
    if (origin !== '' && origin === this.deps.origin) return;
    let items: unknown[];
    try {
      items = JSON.parse(payload.slice(space + 1)) as unknown[];
    } catch {
      return;
    }
    if (channel === this.channels.wake) {
      for (const item of items as [string, string, number?][]) {
        if (item[0] === 'q') this.waiters.notify(item[1]);
        else if (item[0] === 'd' && typeof item[2] === 'number') this.waiters.notifyAt(item[1], item[2]);
      }
    } else if (channel === this.channels.events) {
      for (const e of items as JobEvent[]) this.deliver(e);
    }
  }

  /** Hands an event to this store's subscribers. */
  deliver(e: JobEvent): void {
    for (const l of this.subscribers.keys()) {
      try {
        l(e);
      } catch {
        // a listener's error is its own
      }
    }
  }

  subscribe(listener: (event: JobEvent) => void, types?: readonly JobEventType[]): () => void {
    this.subscribers.set(listener, types ? [...types] : null);
    this.listenEvents(true);
    return () => {
      if (!this.subscribers.delete(listener)) return;
      this.listenEvents(this.subscribers.size > 0);
    };
  }

  /** The union of the subscribers' types, or null when one wants all. */
  private wanted(): string[] | null {
    const all = new Set<string>();
    for (const types of this.subscribers.values()) {
      if (types === null) return null;
      for (const t of types) all.add(t);
    }
    return [...all].sort();
  }

  private listenEvents(on: boolean): void {
    if (this.closed) return;
    const client = this.client;
    if (client && on !== this.listeningEvents) {
      this.listeningEvents = on;
      // One statement at a time on this connection (pg refuses overlapping queries).
      this.toggling = this.toggling.then(() => client.query(`${on ? 'LISTEN' : 'UNLISTEN'} "${this.channels.events}"`)).catch(() => undefined);
    }
    if (on) {
      // Registered again only when the wanted types change, and on each renewal.
      if (JSON.stringify(this.wanted()) !== this.registered) this.register();
      // Real time: the registration says this process is alive.
      this.renewer ??= setInterval(() => this.register(), LISTEN_RENEW_MS);
      this.renewer.unref();
    } else if (this.renewer) {
      clearInterval(this.renewer);
      this.renewer = null;
      this.registered = undefined;
      this.deps.query(`DELETE FROM "${this.deps.schema}".listeners WHERE origin = $1`, [this.deps.origin]).catch(() => undefined);
    }
  }

  private register(): void {
    const types = this.wanted();
    this.registered = JSON.stringify(types);
    this.deps
      .query(
        `INSERT INTO "${this.deps.schema}".listeners (origin, until, types) VALUES ($1, $2, $3) ON CONFLICT (origin) DO UPDATE SET until = excluded.until, types = excluded.types`,
        [this.deps.origin, Date.now() + LISTEN_TTL_MS, types],
      )
      .catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.subscribers.size > 0) {
      this.subscribers.clear();
      await this.deps.query(`DELETE FROM "${this.deps.schema}".listeners WHERE origin = $1`, [this.deps.origin]).catch(() => undefined);
    }
    if (this.renewer) clearInterval(this.renewer);
    if (this.reconnect) clearTimeout(this.reconnect);
    this.waiters.closeAll();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}
