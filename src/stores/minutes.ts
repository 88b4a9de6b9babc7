/**
 * Per-minute counts of finished jobs (Store.history): the dashboard's throughput chart,
 * kept by the store so that it survives restarts and every server shows the same. Stores
 * add up the 'completed' and 'failed' events of each write here, then store one row (or
 * hash field) per queue and minute, not one per job.
 */
import { HISTORY_MS, type JobEvent, type MinuteCounts } from './store.ts';

export function minuteOf(at: number): number {
  return Math.floor(at / 60_000) * 60_000;
}

/** Where a history read starts: `since`, but never before what stores keep (HISTORY_MS). */
export function historyStart(since: number, now: number): number {
  return Math.max(minuteOf(since), minuteOf(now - HISTORY_MS));
}

/** The completed and failed events among `events`, added up per queue and minute. */
export function tallyEvents(events: readonly JobEvent[]): MinuteCounts[] {
  const byKey = new Map<string, MinuteCounts>();
  for (const e of events) {
    if (e.type !== 'completed' && e.type !== 'failed') continue;
    const at = minuteOf(e.at);
    const key = `${e.queue}\n${at}`;
    let t = byKey.get(key);
    if (!t) byKey.set(key, (t = { queue: e.queue, at, completed: 0, failed: 0 }));
    if (e.type === 'completed') t.completed++;
    else t.failed++;
  }
  return [...byKey.values()];
}

/** Oldest first, then by queue. */
export function byMinute(a: MinuteCounts, b: MinuteCounts): number {
  return a.at - b.at || (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0);
}
