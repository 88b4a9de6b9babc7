export { SharedQueue, type ConnectOptions, type CreateOptions, type RawItemHandler, type SharedQueueHandle, type SharedQueueMetrics, type WaitOptions } from './shared-queue.ts';
export { SharedQueueError, Empty, Full, ItemTooLarge } from './errors.ts';
