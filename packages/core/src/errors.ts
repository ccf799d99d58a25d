/**
 * Error classes shared by every pattern. Each failure mode is its own class with a stable string
 * `code`, so callers can branch on `err.code` without `instanceof` across package copies.
 */

/** Stable codes of the errors raised by `@zpatterns/core`. Pattern packages extend this set. */
export type CoreErrorCode =
  | 'ERR_CLOSED'
  | 'ERR_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_PROTOCOL'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_INVALID_STATE'
  | 'ERR_NOT_STARTED'
  | 'ERR_BIND'
  | 'ERR_KEY_FILE'
  | 'ERR_GAVE_UP';

/**
 * Base class of every error a zpatterns library throws or rejects with. Branch on `code` (a
 * stable string such as `'ERR_TIMEOUT'`), which survives duplicate package copies where
 * `instanceof` does not.
 */
export class ZPatternsError<TCode extends string = string> extends Error {
  /** Always `'ZPatternsError'`. */
  override name = 'ZPatternsError';
  /** Stable machine-readable code, for example `'ERR_CLOSED'`. Never changes for a failure mode. */
  readonly code: TCode;

  /**
   * @param code - the stable code, see {@link CoreErrorCode} and each package's `*ErrorCode`
   * @param message - what went wrong, naming the option to change where there is one
   * @param options - `cause`: the underlying error
   */
  constructor(code: TCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The component was closed before, or while, the operation ran. */
export class ClosedError extends ZPatternsError<'ERR_CLOSED'> {
  /** Always `'ClosedError'`. */
  override name = 'ClosedError';
  /** @param what - the component, used in the message `<what> is closed` */
  constructor(what = 'component', options?: ErrorOptions) {
    super('ERR_CLOSED', `${what} is closed`, options);
  }
}

/** Options of a `TimeoutError`: the cause, and the sends a call made before it ran out. */
export interface TimeoutErrorOptions extends ErrorOptions {
  /** Sends made, the first included (0 when the call timed out before sending). */
  attempts?: number | undefined;
}

/**
 * An operation ran out of time. The message names the option that sets the limit. A call that
 * sends and resends sets `attempts`; every whole-call timeout of every client is this class.
 */
export class TimeoutError extends ZPatternsError<'ERR_TIMEOUT'> {
  /** Always `'TimeoutError'`. */
  override name = 'TimeoutError';
  /** Sends the call made, the first included; absent for a wait that sends nothing. */
  readonly attempts?: number;
  /**
   * @param message - names the option that sets the limit, for example `timeoutMs`
   * @param options - `cause`, and `attempts`: the sends made
   */
  constructor(message: string, options?: TimeoutErrorOptions) {
    super('ERR_TIMEOUT', message, options);
    if (options?.attempts !== undefined) this.attempts = options.attempts;
  }
}

/**
 * A reconnect policy gave up: its `RetryDelay` returned `null`. The object that owned the
 * connection closes with this error (`closed()` resolves with it).
 */
export class GaveUpError extends ZPatternsError<'ERR_GAVE_UP'> {
  /** Always `'GaveUpError'`. */
  override name = 'GaveUpError';
  /** Connection attempts made before giving up. */
  readonly attempts: number;
  /**
   * @param what - what gave up, used in the message `<what> gave up after <attempts> attempts`
   * @param attempts - connection attempts made
   */
  constructor(what: string, attempts: number, options?: ErrorOptions) {
    super('ERR_GAVE_UP', `${what} gave up after ${attempts} attempts`, options);
    this.attempts = attempts;
  }
}

/** The caller's `AbortSignal` fired. `cause` holds the signal's reason. */
export class AbortError extends ZPatternsError<'ERR_ABORTED'> {
  /** Always `'AbortError'`. */
  override name = 'AbortError';
  /** @param options - `cause`: the signal's `reason` */
  constructor(message = 'operation aborted', options?: ErrorOptions) {
    super('ERR_ABORTED', message, options);
  }
}

/** A message that does not follow the protocol: wrong frame count, header or command. */
export class ProtocolError extends ZPatternsError<'ERR_PROTOCOL'> {
  /** Always `'ProtocolError'`. */
  override name = 'ProtocolError';
  /** @param message - what the message got wrong */
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_PROTOCOL', message, options);
  }
}

/**
 * API misuse: an option or argument out of range or of the wrong form (a negative timeout, an
 * empty server list, a malformed endpoint or key). Thrown synchronously by constructors and
 * factories, or as the rejection of the call that got the bad argument. The message names the
 * option and the accepted values.
 */
export class InvalidArgumentError extends ZPatternsError<'ERR_INVALID_ARGUMENT'> {
  /** Always `'InvalidArgumentError'`. */
  override name = 'InvalidArgumentError';
  /** @param message - names the option or argument and what it accepts */
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_INVALID_ARGUMENT', message, options);
  }
}

/**
 * A call that the object's current state does not allow: `start()` twice, a second concurrent
 * reader where one at a time is supported, registering the same name twice.
 */
export class InvalidStateError extends ZPatternsError<'ERR_INVALID_STATE'> {
  /** Always `'InvalidStateError'`. */
  override name = 'InvalidStateError';
  /** @param message - the call and the state it was made in */
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_INVALID_STATE', message, options);
  }
}

/** A call that needs a started object was made before `start()` resolved. */
export class NotStartedError extends ZPatternsError<'ERR_NOT_STARTED'> {
  /** Always `'NotStartedError'`. */
  override name = 'NotStartedError';
  /** @param what - the object, used in the message `<what> is not started: await start() first` */
  constructor(what = 'component', options?: ErrorOptions) {
    super('ERR_NOT_STARTED', `${what} is not started: await start() first`, options);
  }
}

/** A socket or listener could not be bound to its endpoint, or gave no usable address after binding. */
export class BindError extends ZPatternsError<'ERR_BIND'> {
  /** Always `'BindError'`. */
  override name = 'BindError';
  /** The endpoint that failed, as given (`tcp://127.0.0.1:*`, ...). */
  readonly endpoint: string;
  /**
   * @param endpoint - the endpoint as given
   * @param message - why it failed; defaults to `could not bind <endpoint>`
   */
  constructor(endpoint: string, message = `could not bind ${endpoint}`, options?: ErrorOptions) {
    super('ERR_BIND', message, options);
    this.endpoint = endpoint;
  }
}

/**
 * Turn anything thrown (by your handler, say) into an `Error`, keeping the original as `cause`
 * when it was not one. Errors pass through unchanged.
 */
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
  InvalidArgumentError,
  InvalidStateError,
  NotStartedError,
  BindError,
  GaveUpError,
} as const;
