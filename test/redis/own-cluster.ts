/**
 * A Redis Cluster of the test's own: three masters and one replica each, on spare loopback
 * ports (client and cluster-bus ports both), from the redis-server on the machine. Stopped
 * by pid; nothing of it outlives the test. Waits go by what the servers log (ready, cluster
 * state ok, failover election won), not by polling.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sparePort } from '../helpers/ports.ts';
import type { Proc } from '../helpers/procs.ts';
import { startRedisServer } from './own-redis.ts';

const run = promisify(execFile);

interface Node {
  port: number;
  args: string[];
  out: Proc;
}

export class OwnCluster {
  readonly dir: string;
  private readonly nodes: Node[];

  private constructor(dir: string, nodes: Node[]) {
    this.dir = dir;
    this.nodes = nodes;
  }

  /** Its nodes as a `redis+cluster://` URL. */
  get url(): string {
    return `redis+cluster://${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  static async start(masters = 3, replicasEach = 1): Promise<OwnCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-cluster-'));
    const nodes: Node[] = [];
    try {
      for (let i = 0; i < masters * (1 + replicasEach); i++) {
        const port = await sparePort();
        let busPort = await sparePort();
        while (busPort === port) busPort = await sparePort();
        const nodeDir = join(dir, String(port));
        mkdirSync(nodeDir);
        const args = [
          '--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000',
          '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', nodeDir,
        ];
        nodes.push({ port, args, out: await startRedisServer(args) });
      }
      await run('redis-cli', [
        '--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas', String(replicasEach), '--cluster-yes',
      ]);
      // Each node says so once every slot is served.
      await Promise.all(nodes.map((n) => n.out.waitFor(/Cluster state changed: ok/, 30_000)));
      const c = new OwnCluster(dir, nodes);
      // And each replica once it holds its master's data (adds with replicas=1 wait on that).
      const replicas = await c.replicaPorts();
      await Promise.all(nodes.filter((n) => replicas.includes(n.port)).map((n) => n.out.waitFor(/MASTER <-> REPLICA sync: Finished with success/, 30_000)));
      return c;
    } catch (err) {
      for (const n of nodes) n.out.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private live(): Node[] {
    return this.nodes.filter((n) => n.out.child.exitCode === null && n.out.child.signalCode === null);
  }

  private async query(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-p', String(port), ...args]);
    return stdout;
  }

  /** Ports of the nodes that are replicas now. */
  private async replicaPorts(): Promise<number[]> {
    const text = await this.query(this.live()[0].port, 'CLUSTER', 'NODES');
    return text
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .filter((f) => f[2].includes('slave'))
      .map((f) => Number(f[1].split(':')[1].split('@')[0]));
  }

  /** The port of the master that serves `key`'s slot. */
  async masterOf(key: string): Promise<number> {
    const port = this.live()[0].port;
    const slot = Number((await this.query(port, 'CLUSTER', 'KEYSLOT', key)).trim());
    // Lines: id host:port@bus flags master-id ping pong epoch link-state slot-ranges...
    for (const line of (await this.query(port, 'CLUSTER', 'NODES')).trim().split('\n')) {
      const f = line.split(' ');
      if (!f[2].includes('master') || f[2].includes('fail')) continue;
      for (const range of f.slice(8)) {
        const [a, b] = range.split('-').map(Number);
        if (slot >= a && slot <= (b ?? a)) return Number(f[1].split(':')[1].split('@')[0]);
      }
    }
    throw new Error(`no master serves slot ${slot}`);
  }

  /** Kills `port`'s master and resolves with the replica that won the election to replace it. */
  async failOver(port: number): Promise<number> {
    const replicas = this.live().filter((n) => n.port !== port);
    const before = new Map(replicas.map((n) => [n, n.out.lines.filter((l) => /Failover election won/.test(l)).length]));
    await this.kill(port);
    // The replica that takes over logs its win; the others see the master fail, never win.
    const winner = await Promise.any(replicas.map((n) => n.out.waitForCount(/Failover election won/, before.get(n)! + 1, 30_000).then(() => n)));
    return winner.port;
  }

  /** kill -9 a node's process. */
  async kill(port: number): Promise<void> {
    const n = this.nodes.find((x) => x.port === port);
    if (!n || n.out.child.exitCode !== null || n.out.child.signalCode !== null) return;
    const exited = once(n.out.child, 'exit');
    n.out.child.kill('SIGKILL');
    await exited;
  }

  /** Starts a killed node again on its port and data; it rejoins (a failed-over master as a replica). */
  async restart(port: number): Promise<void> {
    const n = this.nodes.find((x) => x.port === port)!;
    n.out = await startRedisServer(n.args);
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.port)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
