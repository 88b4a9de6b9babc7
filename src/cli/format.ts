/** Output for people (tables, bars, colour on a TTY only) and for scripts (--json). */
import { ValidationError } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import type { StateCounts } from '../stores/store.ts';

const useColor = (): boolean => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const paint = (code: number) => (s: string) => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);
export const color = { green: paint(32), red: paint(31), yellow: paint(33), cyan: paint(36), dim: paint(2), bold: paint(1) };

export function stateColor(state: string): string {
  if (state === 'completed') return color.green(state);
  if (state === 'failed') return color.red(state);
  if (state === 'active') return color.cyan(state);
  if (state === 'canceled') return color.yellow(state);
  return state;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function out(line = ''): void {
  process.stdout.write(line + '\n');
}

/** Visible width, ignoring colour codes. */
function width(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(widths[i] - width(c))).join('  ').trimEnd();
  return [color.bold(line(headers)), ...rows.map(line)].join('\n');
}

export function time(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function bar(fraction: number, size = 30): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * size);
  return '█'.repeat(full) + '░'.repeat(size - full);
}

export function jobRow(j: Job): string[] {
  return [j.id, j.queue, j.name, stateColor(j.state), `${Math.round(j.progress)}%`, `${j.attempt}/${j.maxAttempts}`, time(j.createdAt)];
}
export const JOB_HEADERS = ['ID', 'QUEUE', 'NAME', 'STATE', 'PROGRESS', 'ATTEMPT', 'CREATED'];

export function jobDetail(j: Job, verbose = false): string {
  const lines = [
    `${color.bold('id')}        ${j.id}`,
    `${color.bold('queue')}     ${j.queue}`,
    `${color.bold('name')}      ${j.name}`,
    `${color.bold('state')}     ${stateColor(j.state)}`,
    `${color.bold('progress')}  ${bar(j.progress / 100, 20)} ${Math.round(j.progress)}%${j.message ? `  ${j.message}` : ''}`,
    `${color.bold('attempt')}   ${j.attempt} of ${j.maxAttempts}`,
    `${color.bold('priority')}  ${j.priority}`,
    `${color.bold('created')}   ${time(j.createdAt)}`,
    `${color.bold('started')}   ${time(j.startedAt)}`,
    `${color.bold('finished')}  ${time(j.finishedAt)}`,
    `${color.bold('data')}      ${JSON.stringify(j.data)}`,
  ];
  if (j.runAt) lines.push(`${color.bold('runs at')}   ${time(j.runAt)}`);
  if (j.dependsOn.length) lines.push(`${color.bold('after')}     ${j.dependsOn.join(', ')}`);
  if (j.result !== null) lines.push(`${color.bold('result')}    ${JSON.stringify(j.result)}`);
  for (const e of j.errors) {
    lines.push(`${color.red(`error #${e.attempt}`)}  ${e.message}`);
    if (verbose && e.stack) lines.push(color.dim(e.stack.replace(/^/gm, '            ')));
  }
  if (!verbose && j.errors.some((e) => e.stack)) lines.push(color.dim('(--verbose shows the stack traces)'));
  return lines.join('\n');
}

/** Edit distance, for "did you mean" (small words only). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length][b.length];
}

/** ' (did you mean "x"?)' for the closest candidate within two edits, else ''. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  let best: string | null = null;
  let bestD = 3;
  for (const c of candidates) {
    const dist = distance(word.toLowerCase(), c);
    if (dist < bestD) [best, bestD] = [c, dist];
  }
  return best === null ? '' : ` (did you mean "${best}"?)`;
}

export function countsLine(c: StateCounts): string {
  return Object.entries(c)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ') || 'empty';
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "30m", "1h", "2d", "500ms" or a plain number of ms. */
export function parseDuration(text: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(String(text).trim());
  if (!m) throw new ValidationError(`${field} must be a duration like 500ms, 30s, 10m, 1h or 2d; got "${text}"`, field);
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']);
}

export function parseIntArg(text: string, field: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ValidationError(`${field} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}; got "${text}"`, field);
  }
  return n;
}

export function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`${field} is not valid JSON: ${(err as Error).message}`, field);
  }
}
