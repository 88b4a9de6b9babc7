/**
 * Typed errors. Every error Conveyor throws on purpose is a ConveyorError with a stable
 * `code`, so the HTTP layer can map it to a status and the CLI to an exit code without
 * parsing messages.
 */
export class ConveyorError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input: nothing was changed. HTTP 400, CLI exit 1. */
export class ValidationError extends ConveyorError {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super('VALIDATION', message);
    this.field = field;
  }
}

/** The job (or queue) does not exist. HTTP 404. */
export class NotFoundError extends ConveyorError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** The operation does not fit the job's current state. HTTP 409. */
export class StateError extends ConveyorError {
  constructor(message: string) {
    super('STATE', message);
  }
}

/** A queue's max size or a per-type limit refused the add. HTTP 429. */
export class QueueFullError extends ConveyorError {
  constructor(message: string) {
    super('QUEUE_FULL', message);
  }
}

/** The backend or server cannot be reached. CLI exit 2. */
export class ConnectionError extends ConveyorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONNECTION', message, options);
  }
}

/** A job's handler ran past its timeout. */
/**
 * The store cannot keep writes: its file was removed or replaced under it (STORAGE_LOST),
 * or its disk is full (STORAGE_FULL). Nothing was acknowledged that was not kept.
 */
export class StorageError extends ConveyorError {
  constructor(code: 'STORAGE_LOST' | 'STORAGE_FULL', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'StorageError';
  }
}

export class TimeoutError extends ConveyorError {
  constructor(message: string) {
    super('TIMEOUT', message);
  }
}

/** Raised inside a handler when its job was canceled or its lease was lost. */
export class AbortedError extends ConveyorError {
  constructor(message: string) {
    super('ABORTED', message);
  }
}

/**
 * Thrown by a handler to fail its job without further retries, whatever attempts remain
 * (like BullMQ's UnrecoverableError).
 */
export class UnrecoverableError extends ConveyorError {
  constructor(message: string) {
    super('UNRECOVERABLE', message);
  }
}
