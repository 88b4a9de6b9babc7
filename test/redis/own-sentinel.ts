/**
 * A primary, a replica and a Sentinel of the test's own on spare loopback ports, from the
 * redis-server on the machine (`--sentinel` mode): the smallest setup that fails over.
 * Waits go by what the servers log (replica in sync, +slave, +switch-master), not by polling.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { sparePort } from '../helpers/ports.ts';
import { watchLines, type Proc } from '../helpers/procs.ts';
import { OwnRedis } from './own-redis.ts';

export const MASTER_NAME = 'main';

/**
 * A primary's log line once a replica on `port` is in sync: after a full sync, or when it
 * accepted a partial one (a restarted replica that kept its data continues where it was).
 */
const synced = (port: number) =>
  new RegExp(`Synchronization with replica 127\\.0\\.0\\.1:${port} succeeded|Partial resynchronization request from 127\\.0\\.0\\.1:${port} accepted`);

export class OwnSentinel {
  readonly primary: OwnRedis;
  readonly replica: OwnRedis;
  readonly port: number;
  private readonly dir: string;
  private readonly out: Proc;

  private constructor(primary: OwnRedis, replica: OwnRedis, port: number, dir: string, out: Proc) {
    this.primary = primary;
    this.replica = replica;
    this.port = port;
    this.dir = dir;
    this.out = out;
  }

  /** The `redis+sentinel://` URL of the monitored primary. */
  get url(): string {
    return `redis+sentinel://127.0.0.1:${this.port}/${MASTER_NAME}`;
  }

  static async start(): Promise<OwnSentinel> {
    const primary = await OwnRedis.start();
    const replica = await OwnRedis.start(['--replicaof', '127.0.0.1', String(primary.port)]);
    await primary.out!.waitFor(synced(replica.port), 20_000);
    const port = await sparePort();
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-sentinel-'));
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        'logfile ""',
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primary.port} 1`,
        // Long enough that a primary busy with the test's load is not taken for dead.
        `sentinel down-after-milliseconds ${MASTER_NAME} 2000`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        '',
      ].join('\n'),
    );
    const out = watchLines(spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    // Sentinel learns the replica from the primary's INFO; a failover needs one.
    await out.waitFor(new RegExp(`\\+slave slave 127\\.0\\.0\\.1:${replica.port} `), 30_000);
    return new OwnSentinel(primary, replica, port, dir, out);
  }

  private async ask<T>(port: number, ...args: (string | number)[]): Promise<T | null> {
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    try {
      await c.connect();
      return (await c.call(String(args[0]), ...args.slice(1))) as T;
    } catch {
      return null;
    } finally {
      c.disconnect();
    }
  }

  /** Until the primary Sentinel names now has one replica online. */
  private async untilReplicaOnline(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Asked each time: under load Sentinel may fail over again (a busy primary looks down).
      const addr = await this.ask<string[]>(this.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME);
      const port = addr ? Number(addr[1]) : 0;
      const info = port ? await this.ask<string>(port, 'INFO', 'replication') : null;
      if (info && /connected_slaves:1/.test(info) && /slave0:.*state=online/.test(info)) return;
      if (Date.now() > deadline) throw new Error(`no replica came online at the primary (port ${port}): ${info}`);
      // A rejoining replica syncs (full or partial) on the servers' own schedule, and the
      // primary logs a partial one in words that vary: read its replication state instead.
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * kill -9 the primary; resolves with the port Sentinel promoted (its +switch-master), once
   * the old primary is back as the new one's replica and in sync.
   */
  async failOver(): Promise<number> {
    const was = this.primary.port;
    const switches = this.out.lines.filter((l) => /\+switch-master/.test(l)).length;
    await this.primary.kill();
    await this.out.waitForCount(/\+switch-master/, switches + 1, 60_000);
    const line = this.out.lines.filter((l) => /\+switch-master/.test(l))[switches];
    const now = Number(/\+switch-master \S+ \S+ \d+ \S+ (\d+)/.exec(line)![1]);
    await this.primary.launch();
    await this.ask(was, 'REPLICAOF', '127.0.0.1', now);
    await this.untilReplicaOnline();
    return now;
  }

  async stop(): Promise<void> {
    if (this.out.child.exitCode === null) {
      const exited = once(this.out.child, 'exit');
      this.out.child.kill('SIGKILL');
      await exited;
    }
    await Promise.all([this.primary.stop(), this.replica.stop()]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
