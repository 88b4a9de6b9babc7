/** Child processes for multi-process tests: spawn with Node 24, read their lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface Proc {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line matching `re` (including lines already seen). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves once `n` lines (seen so far included) match `re`. */
  waitForCount(re: RegExp, n: number, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
  /** Resolves once every line the process wrote has been read (its stdout ended). */
  read: Promise<void>;
}

export function spawnTs(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return watchLines(spawn(process.execPath, [file, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Lines of a child's stdout as they come, for waiting on what a process says (servers included). */
export function watchLines(child: ChildProcess): Proc {
  const lines: string[] = [];
  const watchers: { re: RegExp; resolve: (l: string) => void }[] = [];
  const counters: { re: RegExp; n: number; resolve: () => void }[] = [];
  const rl = createInterface({ input: child.stdout! });
  const read = once(rl, 'close').then(() => undefined);
  rl.on('line', (line) => {
    lines.push(line);
    for (const c of [...counters]) {
      if (c.re.test(line) && lines.filter((l) => c.re.test(l)).length >= c.n) {
        counters.splice(counters.indexOf(c), 1);
        c.resolve();
      }
    }
    for (const w of [...watchers]) {
      if (w.re.test(line)) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const tail = () => (stderr || lines.slice(-20).join('\n')).slice(-2000);
  return {
    child,
    lines,
    exited,
    read,
    waitFor(re, timeoutMs = 30_000) {
      const seen = lines.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        // Unref'd: a wait nobody needs any more (another replica won) must not hold the process.
        const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output: ${tail()}`)), timeoutMs).unref();
        watchers.push({ re, resolve: (l) => { clearTimeout(timer); resolve(l); } });
        void exited.then((code) => reject(new Error(`process exited (${code}) before a line matching ${re}; output: ${tail()}`)));
      });
    },
    waitForCount(re, n, timeoutMs = 30_000) {
      if (lines.filter((l) => re.test(l)).length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`fewer than ${n} lines matching ${re} within ${timeoutMs} ms; output: ${tail()}`)), timeoutMs).unref();
        counters.push({ re, n, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    },
  };
}
