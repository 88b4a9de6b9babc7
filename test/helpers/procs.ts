/** Child processes for multi-process tests: spawn with Node 24, read their lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface Proc {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line matching `re` (including lines already seen). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

export function spawnTs(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [file, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const watchers: { re: RegExp; resolve: (l: string) => void }[] = [];
  const rl = createInterface({ input: child.stdout! });
  rl.on('line', (line) => {
    lines.push(line);
    for (const w of [...watchers]) {
      if (w.re.test(line)) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    lines,
    exited,
    waitFor(re, timeoutMs = 30_000) {
      const seen = lines.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
        watchers.push({ re, resolve: (l) => { clearTimeout(timer); resolve(l); } });
        void exited.then((code) => reject(new Error(`process exited (${code}) before a line matching ${re}; stderr: ${stderr.slice(-2000)}`)));
      });
    },
  };
}
