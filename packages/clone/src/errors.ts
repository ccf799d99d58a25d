/** Typed errors of `@zpatterns/clone`, each with a stable `code`. */
import { ZPatternsError } from '@zpatterns/core';

/** Stable codes of the errors raised by `@zpatterns/clone` (besides core's `ERR_CLOSED`, `ERR_TIMEOUT`). */
export type CloneErrorCode = 'ERR_CLONE_NOT_STARTED' | 'ERR_CLONE_REPLICA';

/** A write before `CloneClient.start()`: the client is not connected to any collector yet. */
export class NotStartedError extends ZPatternsError<CloneErrorCode> {
  override name = 'NotStartedError';
  constructor(what: string, options?: ErrorOptions) {
    super('ERR_CLONE_NOT_STARTED', `clone client: ${what} needs start() first`, options);
  }
}

/** The replica loop stopped on an unexpected error (`cause`); the replica no longer follows a server. */
export class ReplicaError extends ZPatternsError<CloneErrorCode> {
  override name = 'ReplicaError';
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_CLONE_REPLICA', message, options);
  }
}

export const errors = { NotStartedError, ReplicaError } as const;
