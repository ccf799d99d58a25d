/**
 * Error classes shared by every pattern. Each failure mode is its own class with a stable string
 * `code`, so callers can branch on `err.code` without `instanceof` across package copies.
 */

/** Stable codes of the errors raised by `@zpatterns/core`. Pattern packages extend this set. */
export type CoreErrorCode = 'ERR_CLOSED' | 'ERR_TIMEOUT' | 'ERR_ABORTED' | 'ERR_PROTOCOL';

/** Base class of every error raised by zpatterns. */
export class ZPatternsError<TCode extends string = string> extends Error {
  override name = 'ZPatternsError';
  readonly code: TCode;

  constructor(code: TCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The component was closed before, or while, the operation ran. */
export class ClosedError extends ZPatternsError<'ERR_CLOSED'> {
  override name = 'ClosedError';
  constructor(what = 'component', options?: ErrorOptions) {
    super('ERR_CLOSED', `${what} is closed`, options);
  }
}

/** An operation ran out of time. The message names the option that sets the limit. */
export class TimeoutError extends ZPatternsError<'ERR_TIMEOUT'> {
  override name = 'TimeoutError';
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_TIMEOUT', message, options);
  }
}

/** The caller's `AbortSignal` fired. `cause` holds the signal's reason. */
export class AbortError extends ZPatternsError<'ERR_ABORTED'> {
  override name = 'AbortError';
  constructor(message = 'operation aborted', options?: ErrorOptions) {
    super('ERR_ABORTED', message, options);
  }
}

/** A message that does not follow the protocol: wrong frame count, header or command. */
export class ProtocolError extends ZPatternsError<'ERR_PROTOCOL'> {
  override name = 'ProtocolError';
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_PROTOCOL', message, options);
  }
}

/** Turn anything thrown into an `Error`, keeping the original as `cause` when it was not one. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : 'non-error value thrown', { cause: value });
}

/** Reject with an `AbortError` carrying the signal's reason when `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortError('operation aborted', { cause: signal.reason });
}

/** Every error class of this package, for `switch` or lookup by name. */
export const errors = {
  ZPatternsError,
  ClosedError,
  TimeoutError,
  AbortError,
  ProtocolError,
} as const;
