/**
 * Errors raised by `@zpatterns/pirate`. Each failure mode has its own class and a stable `code`;
 * messages name the option to tune. Core's `ClosedError`, `NotStartedError`, `AbortError` and
 * `TimeoutError` are reused where they fit.
 */
import { AbortError, ClosedError, NotStartedError, ProtocolError, TimeoutError, ZPatternsError } from '@zpatterns/core';

/** Stable codes of the errors this package adds (beside core's `ERR_TIMEOUT`). */
export type PirateErrorCode = 'ERR_PIRATE_GAVE_UP';

/**
 * Lazy Pirate: no acceptable reply ("server seems to be offline, abandoning"), either after every
 * attempt or because the request's whole `timeoutMs` ran out. A `TimeoutError` (code
 * `ERR_TIMEOUT`). `attempts` is how many times the request was sent; `servers` the endpoints tried.
 */
export class LazyPirateTimeoutError extends TimeoutError {
  /** `'LazyPirateTimeoutError'`. */
  override name = 'LazyPirateTimeoutError';
  /** How many times the request was sent (the first send included). */
  override readonly attempts: number;
  /** The endpoints the attempts went to, in the client's order. */
  readonly servers: readonly string[];

  /**
   * @param message - what ran out, naming the option to raise
   * @param attempts - sends made, the first included
   * @param servers - the client's endpoints
   */
  constructor(message: string, attempts: number, servers: readonly string[], options?: ErrorOptions) {
    super(message, options);
    this.attempts = attempts;
    this.servers = servers;
  }
}

/**
 * Paranoid Pirate worker: the reconnect policy returned `null` (a finite `reconnectDelay`
 * policy ran out), so the worker closed itself.
 */
export class ReconnectGaveUpError extends ZPatternsError<'ERR_PIRATE_GAVE_UP'> {
  /** `'ReconnectGaveUpError'`. */
  override name = 'ReconnectGaveUpError';
  /** Reconnects tried before giving up. */
  readonly attempts: number;

  /** @param attempts - reconnects tried before giving up */
  constructor(attempts: number, options?: ErrorOptions) {
    super(
      'ERR_PIRATE_GAVE_UP',
      `queue unreachable after ${attempts} reconnect attempt(s); see 'reconnectDelay'`,
      options,
    );
    this.attempts = attempts;
  }
}

/** Every error class a caller of this package may see, for lookup by name. */
export const errors = {
  LazyPirateTimeoutError,
  ReconnectGaveUpError,
  ClosedError,
  NotStartedError,
  AbortError,
  TimeoutError,
  ProtocolError,
} as const;
