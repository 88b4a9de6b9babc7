/** SharedQueue's own errors (it imports nothing else from Conveyor, by design). */
export class SharedQueueError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** get with no wait (or past its timeout) found nothing. */
export class Empty extends SharedQueueError {
  constructor(message = 'queue is empty') {
    super('EMPTY', message);
  }
}

/** put with no wait (or past its timeout) found no room. */
export class Full extends SharedQueueError {
  constructor(message = 'queue is full') {
    super('FULL', message);
  }
}

/** The encoded item is bigger than the queue's maxItemBytes: nothing was written. */
export class ItemTooLarge extends SharedQueueError {
  constructor(size: number, max: number) {
    super('ITEM_TOO_LARGE', `item is ${size} bytes encoded; this queue takes at most ${max}`);
  }
}
