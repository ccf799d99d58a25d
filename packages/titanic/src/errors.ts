/**
 * Errors raised by `@zpatterns/titanic`. Each failure mode has its own class and a stable `code`;
 * timeouts, aborts, closed components and invalid arguments use the core classes (`TimeoutError`,
 * `AbortError`, `ClosedError`, `InvalidArgumentError`).
 */
import { ZPatternsError } from '@zpatterns/core';

/**
 * Stable codes of the errors this package adds (besides core's `ERR_CLOSED`, `ERR_TIMEOUT`, `ERR_ABORTED`).
 */
export type TitanicErrorCode =
  | 'ERR_TITANIC_UNKNOWN_REQUEST'
  | 'ERR_TITANIC_SERVER'
  | 'ERR_TITANIC_REJECTED'
  | 'ERR_TITANIC_BAD_REPLY'
  | 'ERR_TITANIC_STORE';

/** Titanic answered "400": it does not know this UUID (never stored, or already closed). */
export class TitanicUnknownRequestError extends ZPatternsError<'ERR_TITANIC_UNKNOWN_REQUEST'> {
  /** `'TitanicUnknownRequestError'`. */
  override name = 'TitanicUnknownRequestError';
  /** The UUID Titanic does not know. */
  readonly uuid: string;
  constructor(uuid: string, options?: ErrorOptions) {
    super('ERR_TITANIC_UNKNOWN_REQUEST', `titanic does not know request ${uuid} (never stored, or closed)`, options);
    this.uuid = uuid;
  }
}

/** Titanic answered "500": it failed internally (e.g. its store could not write). */
export class TitanicServerError extends ZPatternsError<'ERR_TITANIC_SERVER'> {
  /** `'TitanicServerError'`. */
  override name = 'TitanicServerError';
  constructor(message = 'titanic reported an internal error (500)', options?: ErrorOptions) {
    super('ERR_TITANIC_SERVER', message, options);
  }
}

/** Titanic answered "400" to a submission: the request was malformed (e.g. no service name). */
export class TitanicRejectedError extends ZPatternsError<'ERR_TITANIC_REJECTED'> {
  /** `'TitanicRejectedError'`. */
  override name = 'TitanicRejectedError';
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_TITANIC_REJECTED', message, options);
  }
}

/** The reply did not follow 9/TSP (unknown status, missing UUID). */
export class TitanicBadReplyError extends ZPatternsError<'ERR_TITANIC_BAD_REPLY'> {
  /** `'TitanicBadReplyError'`. */
  override name = 'TitanicBadReplyError';
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_TITANIC_BAD_REPLY', message, options);
  }
}

/** The durable store failed (disk full, corrupt file, closed store). */
export class TitanicStoreError extends ZPatternsError<'ERR_TITANIC_STORE'> {
  /** `'TitanicStoreError'`. */
  override name = 'TitanicStoreError';
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_TITANIC_STORE', message, options);
  }
}

/** Every error class of this package. */
export const errors = {
  TitanicUnknownRequestError,
  TitanicServerError,
  TitanicRejectedError,
  TitanicBadReplyError,
  TitanicStoreError,
} as const;
