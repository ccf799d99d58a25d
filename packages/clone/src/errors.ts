/** Typed errors of `@zpatterns/clone`, each with a stable `code`. */
import { ZPatternsError } from '@zpatterns/core';

/**
 * Stable codes of the errors raised by `@zpatterns/clone` (besides core's `ERR_CLOSED`,
 * `ERR_NOT_STARTED`, `ERR_TIMEOUT`, `ERR_ABORTED` and `ERR_INVALID_ARGUMENT`).
 */
export type CloneErrorCode = 'ERR_CLONE_REPLICA' | 'ERR_CLONE_WATCH_OVERFLOW' | 'ERR_CLONE_JOURNAL';

/** The replica loop stopped on an unexpected error (`cause`); the replica no longer follows a server. */
export class ReplicaError extends ZPatternsError<'ERR_CLONE_REPLICA'> {
  /** `'ReplicaError'`. */
  override name = 'ReplicaError';
  /** @param message - what stopped the replica; `cause` holds the underlying error */
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_CLONE_REPLICA', message, options);
  }
}

/**
 * A `watch()` consumer fell more than `maxWatchBacklog` changes behind, so its iterator was ended
 * with this error (other watchers are unaffected). Start a new watch and re-read `entries()`.
 */
export class WatchOverflowError extends ZPatternsError<'ERR_CLONE_WATCH_OVERFLOW'> {
  /** `'WatchOverflowError'`. */
  override name = 'WatchOverflowError';
  /** How many changes were queued for the consumer when it was ended. */
  readonly backlog: number;
  /** @param backlog - the changes queued for the consumer when it was ended */
  constructor(backlog: number, options?: ErrorOptions) {
    super('ERR_CLONE_WATCH_OVERFLOW', `clone watch fell ${backlog} changes behind and was ended`, options);
    this.backlog = backlog;
  }
}

/**
 * The server's journal (`<dataDir>/clone.db`) cannot be used: written by a newer version, locked
 * by another server, or unreadable. `cause` holds the SQLite error when there is one.
 */
export class JournalError extends ZPatternsError<'ERR_CLONE_JOURNAL'> {
  /** `'JournalError'`. */
  override name = 'JournalError';
  /** @param message - the journal file and what is wrong with it */
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_CLONE_JOURNAL', message, options);
  }
}

/** Every error class this package adds, for lookup by name. */
export const errors = { ReplicaError, WatchOverflowError, JournalError } as const;
