/** What every system under test offers the workloads. One fresh namespace per process. */
export interface Running {
  close(): Promise<void>;
}

export interface Adapter {
  /** How it is configured, for the results table ("defaults", "durability: process"...). */
  readonly settings: string;
  /** The PostgreSQL schema it keeps its tables in (its size is reported after the run). */
  readonly schema?: string;
  setup(): Promise<void>;
  /** `groups[i]`, when given, is item i's group (fair shares; Conveyor only). */
  addBulk(items: object[], groups?: string[]): Promise<void>;
  add(item: object): Promise<void>;
  work(concurrency: number, handler: (data: Record<string, unknown>) => void): Promise<Running>;
  teardown(): Promise<void>;
}

export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const tag = () => `bench-${process.pid}-${Date.now().toString(36)}`;
