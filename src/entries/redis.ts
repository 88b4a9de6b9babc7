/** `conveyor/redis`: the Redis store class, for code that builds one directly (loads ioredis). */
export { RedisStore, type RedisStoreOptions } from '../stores/redis/redis-store.ts';
